// cookies.go: the crawl's cookies in one hash of the crawl's control keys
// (frontier.CookieKeeper), written with the next Commit.

package redisstore

import "fmt"

// SaveCookie implements frontier.CookieKeeper.
func (s *Store) SaveCookie(key, value string) error {
	if s.cookies == nil {
		s.cookies = map[string]string{}
	}
	s.cookies[key] = value
	return nil
}

// Cookies implements frontier.CookieKeeper: every master of the crawl
// reads them all (a cookie may be a whole domain's).
func (s *Store) Cookies(fn func(key, value string) error) error {
	ctx, cancel := s.ctx()
	defer cancel()
	var cursor uint64
	for {
		kv, next, err := s.rdb.HScan(ctx, s.ctlKey("cookies"), cursor, "*", 1000).Result()
		if err != nil {
			return fmt.Errorf("redis store: reading cookies: %w", err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if err := fn(kv[i], kv[i+1]); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// commitCookies writes the cookies saved since the last Commit; on an
// error they stay for the next.
func (s *Store) commitCookies() error {
	if len(s.cookies) == 0 {
		return nil
	}
	ctx, cancel := s.ctx()
	defer cancel()
	key := s.ctlKey("cookies")
	pipe := s.rdb.Pipeline()
	for k, v := range s.cookies {
		if v == "" {
			pipe.HDel(ctx, key, k)
		} else {
			pipe.HSet(ctx, key, k, v)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis store: writing cookies: %w", err)
	}
	clear(s.cookies)
	return nil
}
