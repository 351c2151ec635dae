// status.go: what a status code means (class, success, redirect, not
// fetched, retryable, error): the one place that decides it.

package crawluri

import "strconv"

// What a status code means, decided here once for the master, the
// frontier, the sinks, the worker and the metrics (they had four rules of
// their own).

// StatusClass is a status code's class: 1 to 5 for HTTP's classes, 9 for
// spyder's verdicts on URLs never fetched (910, 911), 0 for anything else
// (spyder's failures 710 and 810, unknown codes).
func StatusClass(code int16) int {
	switch c := int(code) / 100; {
	case c >= 1 && c <= 5, c == 9:
		return c
	}
	return 0
}

// StatusClassName names a class as metrics and reports label it: "2xx",
// "9xx", or "other".
func StatusClassName(code int16) string {
	if c := StatusClass(code); c != 0 {
		return strconv.Itoa(c) + "xx"
	}
	return "other"
}

// IsSuccess reports a 2xx: the page was fetched.
func IsSuccess(code int16) bool { return code >= 200 && code < 300 }

// IsRedirect reports a 3xx (a 304 too: not modified).
func IsRedirect(code int16) bool { return code >= 300 && code < 400 }

// IsNotFetched reports spyder's verdicts on URLs it never requested
// (robots.txt: 910, 911).
func IsNotFetched(code int16) bool { return StatusClass(code) == 9 }

// IsRetryable reports an outcome worth trying again later: 429, a 5xx
// (599, a transport error, among them), spyder's own failures (710, 810)
// and unknown codes, below 100 or above 5xx. A 4xx is final.
func IsRetryable(code int16) bool {
	return code == 429 || code >= 500 || code < 100
}

// IsError reports a result a worker counts as an error: anything but
// 1xx, 2xx and 3xx.
func IsError(code int16) bool { return code >= 400 || code < 100 }
