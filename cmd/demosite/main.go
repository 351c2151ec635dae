// Command demosite serves the small website the README's demo crawl
// fetches: a sailing club's pages (embedded in the binary), a redirect
// (/old-news -> /news/), a page that is gone (404), links that are off
// scope, and a members' area its robots.txt disallows. Every request is logged on stderr, so the crawl's politeness and
// its "each page once" can be seen.
//
//	demosite -listen 127.0.0.1:8080
package main

import (
	"embed"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"os"
	"time"
)

//go:embed site
var site embed.FS

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve the demo site on")
	flag.Parse()
	root, err := fs.Sub(site, "site")
	if err != nil {
		log.Fatal(err)
	}
	files := http.FileServer(http.FS(root))
	mux := http.NewServeMux()
	mux.Handle("/old-news", http.RedirectHandler("/news/", http.StatusMovedPermanently))
	mux.Handle("/", files)
	logger := log.New(os.Stderr, "demosite ", log.LstdFlags|log.Lmicroseconds)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		logger.Printf("%d %s %q", rec.status, r.URL.RequestURI(), r.UserAgent())
	})
	srv := &http.Server{Addr: *listen, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "demosite: serving on http://%s/\n", *listen)
	if err := srv.ListenAndServe(); err != nil {
		log.Fatal(err)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
