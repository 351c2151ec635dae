// Package crawluri is the wire format shared by the master and its workers:
// the CrawlUri record in Thrift binary encoding (byte-compatible with the
// original Python spyder's crawluri.thrift), and the data-message envelope
// [identity, CrawlUri] that carries it over ZeroMQ.
//
// The codec is hand-written rather than generated: the schema is one flat
// struct, and a decoder that must survive frames from strangers is easier to
// bound (lengths, counts, nesting) when every read is in plain sight.
// PROTOCOL.md at the repository root is the normative description.
package crawluri

import (
	"mime"
	"net/http"
	"strings"
)

// Thrift field ids of CrawlUri. Ids 1-12 are spyder's; new fields take new
// ids, so a Thrift reader built from spyder's IDL skips them.
const (
	FieldURL             = 1
	FieldEffectiveURL    = 2
	FieldCurrentPriority = 3
	FieldBeginProcessing = 4
	FieldEndProcessing   = 5
	FieldReqHeader       = 6
	FieldRepHeader       = 7
	FieldContentBody     = 8
	FieldStatusCode      = 9
	FieldReqTime         = 10
	FieldQueueTime       = 11
	FieldOptionalVars    = 12
	FieldLeaseID         = 13 // new in this implementation
	FieldWorkerID        = 14 // new
	FieldError           = 15 // new
	FieldBodyLength      = 16 // new
	FieldOmitBody        = 17 // new
	FieldArchiveDir      = 18 // new
	FieldCapture         = 19 // new
	FieldRawRequest      = 20 // new
	FieldRawResponse     = 21 // new
	FieldRemoteIP        = 22 // new
	FieldWARCCapture     = 23 // new
	FieldWARCRevisit     = 24 // new
)

// Keys of CrawlUri.OptionalVars, as spyder's constants.py spells them.
const (
	VarUsername           = "username"
	VarPassword           = "password"
	VarExtractionFinished = "extraction_finished"
	VarExtractedURLs      = "extracted_urls"
	VarTruncated          = "truncated"
	VarSniffedType        = "sniffed_content_type" // the body's media type by content, when the body was left out and no header named one
	// VarSitemap marks a result whose links are the URLs a sitemap lists
	// ("urlset", "sitemapindex") or a robots.txt's Sitemap: lines
	// ("robots"); VarSitemapError says what of a sitemap was ignored.
	VarSitemap      = "sitemap"
	VarSitemapError = "sitemap_error"
	// VarSitemapLastMod is the <lastmod> of a sitemap's first URLs, in
	// unix seconds separated by spaces, one for each of the result's
	// first links (the dated ones come first): what the master needs to
	// bring a changed page's revisit forward.
	VarSitemapLastMod = "sitemap_lastmod"
	// VarSkipped says why a response's body was neither read nor kept
	// (content_types, max_response_size): the result is its status and
	// headers, and nothing is archived.
	VarSkipped = "skipped"
	// VarSetCookie carries the cookies a fetch's responses set, one per
	// line: the URL of the response, a tab, its Set-Cookie value (the
	// master's cookie jar takes them).
	VarSetCookie = "set_cookie"
	// VarVia and VarHopPath are how a result's URL was found (the page
	// linking to it, Heritrix's hop path), noted by the master's frontier
	// for the crawl log. VarWantDigest, master->worker: report the
	// payload's digest in VarDigest ("sha1:" and base 32).
	VarVia        = "via"
	VarHopPath    = "hop_path"
	VarWantDigest = "want_digest"
	VarDigest     = "digest"
	// VarFieldPrefix begins the keys of extracted fields (css_extract's,
	// a processor's own): FieldVar.
	VarFieldPrefix = "field:"
	VarTrue        = "1"
	VarFalse       = "0"
)

// Status codes beyond HTTP that travel in CrawlUri.StatusCode.
const (
	// StatusTransportError is a failed fetch: connect error, timeout, TLS
	// failure, malformed response (Tornado's 599 in spyder).
	StatusTransportError = 599
	// StatusMasterException marks a result whose handling in the master failed
	// (a sink or the frontier returned an error).
	StatusMasterException = 710
	// StatusWorkerException marks a result whose processing in the worker
	// failed (a processor panicked or returned an error).
	StatusWorkerException = 810
	// StatusRobotsDisallowed marks a URL the host's robots.txt does not
	// allow us to fetch; it was never requested.
	StatusRobotsDisallowed = 910
	// StatusRobotsUnreachable marks a URL of a host whose robots.txt could
	// not be fetched (5xx, 429 or a transport error, past the retries):
	// RFC 9309 treats that as a complete disallow, so it was never requested.
	StatusRobotsUnreachable = 911
)

// CrawlUri is one URL on its way from the master to a worker and back.
//
// Zero values are not written on the wire (Thrift's unset fields), except URL,
// which is always present.
type CrawlUri struct {
	URL             string            // the frontier key
	EffectiveURL    string            // the URL actually requested
	CurrentPriority int16             // priority level assigned by the frontier
	BeginProcessing int64             // unused by spyder; kept for compatibility
	EndProcessing   int64             // unused by spyder; kept for compatibility
	ReqHeader       map[string]string // master->worker: validators; worker->master: headers sent
	RepHeader       map[string]string // response headers (first value of each)
	ContentBody     []byte            // response body
	StatusCode      int16             // HTTP status, or 599/710/810/910/911
	ReqTime         float64           // seconds the request took
	QueueTime       float64           // seconds the URL waited in the worker before its fetch started
	OptionalVars    map[string]string // processor scratch space (extracted_urls, ...)

	LeaseID  int64  // dispatch lease, echoed by the worker; results match on URL + lease
	WorkerID string // identity of the worker that produced a result
	Error    string // why a fetch or a processor failed, for statuses 599 and 810

	// OmitBody, master->worker: no sink of the master reads bodies, so the
	// result comes back without its body (a robots.txt's body always
	// comes: the master reads it). BodyLength, worker->master: the size of
	// the body left out.
	OmitBody   bool
	BodyLength int64
	// ArchiveDir, master->worker: the worker writes this fetch's WARC
	// records (warc_writer: worker) to this directory (the master's
	// output_warc_dir) unless its own output_warc_dir names another.
	ArchiveDir string
	// Capture, master->worker: the master writes WARC (warc_writer:
	// master) and wants the exchange as it crossed the wire, in RawRequest,
	// RawResponse and RemoteIP. A worker captures them for ArchiveDir too,
	// and keeps them to itself then.
	Capture bool
	// RawRequest is the request head as sent, RawResponse the response as
	// received (head, then the body with its transfer and content codings),
	// cut at max_content_length plus the head; RemoteIP is the address
	// connected to. Empty when the fetch could not be recorded (HTTPS
	// through a proxy: the proxy's TLS tunnel is not the worker's).
	RawRequest  []byte
	RawResponse []byte
	RemoteIP    string
	// WARCCapture, master->worker: the response record the URL's payload
	// was last archived in (warcfile.Capture's line), for a fetch with
	// ArchiveDir or Capture; worker->master: the URL's capture after this
	// fetch, kept by the frontier for the next. WARCRevisit,
	// worker->master: the payload was that capture's, and the fetch is
	// archived as a revisit of it.
	WARCCapture string
	WARCRevisit bool

	// links are the extracted links as a list while a worker's processors
	// work on them (ExtractedURLs, SetExtractedURLs): each reads and
	// rewrites them, and splitting and joining optional_vars'
	// extracted_urls for each cost more than the work. While linksSet,
	// links are the truth; Encode writes them into the optional var.
	links    []string
	linksSet bool
}

// BodySize is the size of the fetched body, whether it came with the
// result or was left out (OmitBody).
func (c *CrawlUri) BodySize() int64 {
	if len(c.ContentBody) > 0 {
		return int64(len(c.ContentBody))
	}
	return c.BodyLength
}

// LeaveOutBody drops the body of a processed result, keeping its size and,
// when the response named none, the media type sniffed from it: what a
// sink reading no body still reports (ContentType, BodySize).
func (c *CrawlUri) LeaveOutBody() {
	if len(c.ContentBody) == 0 {
		return
	}
	if HeaderValue(c.RepHeader, "Content-Type") == "" {
		c.SetVar(VarSniffedType, http.DetectContentType(c.ContentBody))
	}
	c.BodyLength = int64(len(c.ContentBody))
	c.ContentBody = nil
}

// FieldVar is the optional var that carries the extracted field name to
// the master's outputs (output_fields).
func FieldVar(name string) string { return VarFieldPrefix + name }

// Var returns OptionalVars[key], or "" when unset.
func (c *CrawlUri) Var(key string) string {
	if key == VarExtractedURLs && c.linksSet {
		return strings.Join(c.links, "\n")
	}
	if c.OptionalVars == nil {
		return ""
	}
	return c.OptionalVars[key]
}

// SetVar sets OptionalVars[key], creating the map when needed.
func (c *CrawlUri) SetVar(key, value string) {
	if key == VarExtractedURLs {
		c.links, c.linksSet = nil, false
	}
	if c.OptionalVars == nil {
		c.OptionalVars = make(map[string]string, 2)
	}
	c.OptionalVars[key] = value
}

// HeaderValue looks a header up in a CrawlUri header map, first by exact
// name, then case-insensitively (peers may not canonicalize names).
func HeaderValue(h map[string]string, name string) string {
	if v, ok := h[name]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// ContentType returns the media type and charset of a fetched page: from
// the Content-Type header, or sniffed from the body when there is none.
func (c *CrawlUri) ContentType() (mediaType, charsetName string) {
	ct := HeaderValue(c.RepHeader, "Content-Type")
	if ct == "" {
		ct = c.Var(VarSniffedType)
	}
	if ct == "" {
		if len(c.ContentBody) == 0 {
			return "", ""
		}
		ct = http.DetectContentType(c.ContentBody)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, _, _ = strings.Cut(ct, ";")
		return strings.ToLower(strings.TrimSpace(mt)), ""
	}
	return mt, strings.ToLower(params["charset"])
}
