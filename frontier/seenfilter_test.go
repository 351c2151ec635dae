package frontier

import (
	"fmt"
	"testing"
	"time"

	"github.com/spyder-crawl/spyder/urlx"
)

func keyOf(format string, args ...any) urlx.Key { return urlx.KeyOf(fmt.Sprintf(format, args...)) }

// TestBloomLayer: no key added is ever missed, and keys never added are
// taken for added ones about 2% of the time at capacity, for URL keys as
// alike as a site's pages.
func TestBloomLayer(t *testing.T) {
	const n = 100000
	l := newBloomLayer(n)
	for i := range n {
		k := keyOf("http://h%d.test/page/%d.html", i%100, i)
		l.add(&k)
	}
	for i := range n {
		if k := keyOf("http://h%d.test/page/%d.html", i%100, i); !l.hasHash(hashKey(&k)) {
			t.Fatalf("key %d added and not found", i)
		}
	}
	fp := 0
	for i := range n {
		if k := keyOf("http://h%d.test/page/%d.html?other", i%100, i); l.hasHash(hashKey(&k)) {
			fp++
		}
	}
	if rate := float64(fp) / n; rate > 0.04 {
		t.Errorf("false positives: %.2f%%, want about 2%%", 100*rate)
	}
	t.Logf("false positives at capacity: %.2f%%", 100*float64(fp)/n)
}

// filterReady starts the seen filter's build if none is under way, waits
// for it, and takes its base, as the next admission would.
func filterReady(t *testing.T, f *testFrontier) {
	t.Helper()
	f.filter.ready(f.Durable, time.Now())
	if b := f.filter.build; b != nil {
		<-b.done
	}
	f.filter.ready(f.Durable, time.Now())
	if f.filter.base == nil {
		t.Fatal("the seen filter has no base after its build")
	}
}

// TestSeenFilterSparesSeeks: a master reopened on a crawl admits links it
// never saw without a store seek once the filter is built, and still
// never admits a URL twice: not those from before the restart, not those
// admitted while the filter was being built, not those a bulk load wrote
// behind the batch. The seen cache is cut to one key so that every
// answer comes from the filter or the store.
func TestSeenFilterSparesSeeks(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	page := func(i int) string { return fmt.Sprintf("http://h%d.test/page/%d.html", i%50, i) }
	urls := func(from, to int) []string {
		var us []string
		for i := from; i < to; i++ {
			us = append(us, page(i))
		}
		return us
	}
	first := open(t, "multiple_host", Options{Dir: dir})
	if n, err := first.Durable.AddSeeds(urls(0, 5000), now); err != nil || n != 5000 {
		t.Fatalf("seeds: %d, %v", n, err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	f := open(t, "multiple_host", Options{Dir: dir})
	f.seen = newSeenCache(1)
	admit := func(want int, us []string) {
		t.Helper()
		if n, err := f.Durable.Admit(us, Discovery{Depth: 1}, now); err != nil || n != want {
			t.Fatalf("admitted %d of %d (%v), want %d", n, len(us), err, want)
		}
	}
	// While the base is built: new links are seeks, as before the filter.
	admit(1000, urls(5000, 6000))
	seeks := f.filter.seeks
	if seeks < 1000 {
		t.Fatalf("%d seeks for 1,000 links before the filter was built", seeks)
	}
	filterReady(t, f)
	if err := f.Durable.Commit(); err != nil {
		t.Fatal(err)
	}

	// Known: from before the restart and from during the build. Each is a
	// seek (a "maybe" is confirmed), none is admitted.
	seeks = f.filter.seeks
	admit(0, urls(0, 6000))
	if got := f.filter.seeks - seeks; got != 6000 {
		t.Errorf("%d seeks for 6,000 known links, want 6,000", got)
	}
	// New: admitted, with only the false positives' seeks.
	seeks = f.filter.seeks
	admit(4000, urls(6000, 10000))
	if got := f.filter.seeks - seeks; got > 4000*4/100 {
		t.Errorf("%d seeks for 4,000 new links: the filter spared too few", got)
	}
	t.Logf("4,000 new links: %d seeks", f.filter.seeks-seeks)
	// And now known.
	admit(0, urls(6000, 10000))

	// A bulk load writes behind the batch: its URLs must not be taken
	// for new ones.
	if err := f.Durable.Commit(); err != nil {
		t.Fatal(err)
	}
	l, err := f.Durable.BulkLoad(now)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Add(urls(10000, 12000)); err != nil {
		t.Fatal(err)
	}
	if n, err := l.Finish(); err != nil || n != 2000 {
		t.Fatalf("bulk load: %d, %v", n, err)
	}
	admit(0, urls(10000, 12000))
	filterReady(t, f)
	admit(0, urls(10000, 12000))
	admit(1000, urls(12000, 13000))
	if st := f.Durable.Stats(); st.Seen != 13000 {
		t.Errorf("seen %d, want 13,000", st.Seen)
	}
}
