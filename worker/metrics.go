// metrics.go: the worker's Prometheus metrics.

package worker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/internal/metrics"
)

// workerMetrics are a worker's Prometheus metrics, updated by its loop as
// results go out (prometheus' types are safe for the scraping goroutine).
type workerMetrics struct {
	reg      *prometheus.Registry
	fetches  *prometheus.CounterVec
	latency  prometheus.Histogram
	bytes    prometheus.Counter
	links    prometheus.Counter
	returned prometheus.Counter
	inFlight prometheus.Gauge
}

func newWorkerMetrics() *workerMetrics {
	wm := &workerMetrics{
		reg: metrics.NewRegistry(),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "spyder_worker_results_total",
			Help: "Results sent to the master, by status class (5xx includes 599 transport errors; other: 810 processing failures)."}, []string{"class"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "spyder_worker_fetch_duration_seconds",
			Help: "Time from request to the last body byte of every fetch.", Buckets: metrics.FetchBuckets}),
		bytes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "spyder_worker_body_bytes_total", Help: "Response body bytes kept (after decoding, up to max_content_length)."}),
		links:    prometheus.NewCounter(prometheus.CounterOpts{Name: "spyder_worker_links_total", Help: "Links extracted and sent to the master."}),
		returned: prometheus.NewCounter(prometheus.CounterOpts{Name: "spyder_worker_returned_total", Help: "URLs handed back unfetched (shutdown)."}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "spyder_worker_fetches_running", Help: "Fetches running now (at most max_clients)."}),
	}
	wm.reg.MustRegister(wm.fetches, wm.latency, wm.bytes, wm.links, wm.returned, wm.inFlight)
	return wm
}

// result counts one result on its way out.
func (wm *workerMetrics) result(c *crawluri.CrawlUri, running int) {
	if wm == nil {
		return
	}
	wm.fetches.WithLabelValues(crawluri.StatusClassName(c.StatusCode)).Inc()
	wm.latency.Observe(c.ReqTime)
	wm.bytes.Add(float64(c.BodySize()))
	wm.links.Add(float64(len(c.ExtractedURLs())))
	wm.inFlight.Set(float64(running))
}
