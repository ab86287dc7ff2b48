package main

import "net/http"

// pageHandler serves a plain page telling how to connect.
func pageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(plainPage))
	})
}

const plainPage = `<!doctype html>
<meta charset="utf-8">
<title>epchat</title>
<h1>epchat</h1>
<p>Ephemeral chat rooms: the WebSocket endpoint is <code>/chat/</code>.
Speak the JSON protocol of PROTOCOL.md: send
<code>{"type":"hello","nickname":"Ana"}</code>, then <code>create</code>,
<code>invite</code>, <code>join</code>, <code>send</code>.</p>
`
