// cookies.go: the crawl's cookies, kept with its state (the master's
// cookie jar writes them here and reads them back at start).

package frontier

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// A CookieKeeper keeps the crawl's cookies with its state, entry by entry:
// key names a cookie (the master's choice: host, name, domain, path),
// value is what the master needs to set it again. A store that is one
// implements it; the master's jar then lasts across restarts.
type CookieKeeper interface {
	// SaveCookie writes a cookie's entry, durable with the next Commit;
	// an empty value deletes it.
	SaveCookie(key, value string) error
	// Cookies calls fn with every entry kept.
	Cookies(fn func(key, value string) error) error
}

// Cookies gives the cookie keeper of frontier f's store, if it has one.
func Cookies(f Frontier) (CookieKeeper, bool) { return capability[CookieKeeper](f) }

// capability gives frontier f's store as a T, an optional capability
// (CookieKeeper, RevisitAdvancer, HostLister), if it has it.
func capability[T any](f Frontier) (T, bool) {
	if c, ok := f.(*crawl); ok {
		t, ok := c.Store.(T)
		return t, ok
	}
	t, ok := f.(T)
	return t, ok
}

// pfxCookie: 'K' key -> value, the crawl's cookies (CookieKeeper).
const pfxCookie = 'K'

// SaveCookie implements CookieKeeper: in the turn's batch, committed with
// the results whose responses set the cookie.
func (f *Durable) SaveCookie(key, value string) error {
	k := append([]byte{pfxCookie}, key...)
	if value == "" {
		return f.b.Delete(k, nil)
	}
	return f.b.Set(k, []byte(value), nil)
}

// Cookies implements CookieKeeper.
func (f *Durable) Cookies(fn func(key, value string) error) error {
	it, err := f.b.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxCookie}, UpperBound: []byte{pfxCookie + 1}})
	if err != nil {
		return fmt.Errorf("frontier store: reading cookies: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(string(it.Key()[1:]), string(it.Value())); err != nil {
			return err
		}
	}
	return it.Error()
}
