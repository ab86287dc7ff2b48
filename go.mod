module github.com/epchat-go/epchat

go 1.26

require (
	github.com/gobwas/httphead v0.1.0
	github.com/gobwas/ws v1.5.0
)
