package main

import (
	"embed"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/epchat-go/epchat"
	"github.com/epchat-go/epchat/epchatprom"
)

//go:embed statspage
var statsPage embed.FS

// statsCSP lets the stats page load its own script and style and poll its
// own origin, and nothing else: it fetches nothing from the internet.
const statsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// mountStats serves the Hub's figures: /metrics for Prometheus, /stats.json
// (hub.Stats() as JSON) and /stats, a live page that polls it. They hold
// counts only, no id and nothing said; a real deployment would still put
// them behind its own access control.
func mountStats(mux *http.ServeMux, hub *epchat.Hub) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		epchatprom.NewCollector(hub),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /stats.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(hub.Stats())
	})
	for path, file := range map[string]struct{ name, typ string }{
		"GET /stats":     {"statspage/index.html", "text/html; charset=utf-8"},
		"GET /stats.js":  {"statspage/stats.js", "text/javascript; charset=utf-8"},
		"GET /stats.css": {"statspage/stats.css", "text/css; charset=utf-8"},
	} {
		body, err := statsPage.ReadFile(file.name)
		if err != nil {
			panic("stats page: " + err.Error()) // compiled in: a build bug
		}
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Type", file.typ)
			h.Set("Content-Security-Policy", statsCSP)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Cache-Control", "no-cache")
			w.Write(body)
		})
	}
}
