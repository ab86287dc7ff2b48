module github.com/epchat-go/epchat/examples

go 1.26

require (
	github.com/epchat-go/epchat v0.0.0
	github.com/gobwas/ws v1.5.0
)

require github.com/gobwas/httphead v0.1.0 // indirect

replace github.com/epchat-go/epchat => ../
