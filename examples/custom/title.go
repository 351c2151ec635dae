// title.go: the "title" processor: the text of a page's <title>, kept in
// the result's optional vars (which travel to the master with it).

package main

import (
	"bytes"
	"context"
	"strings"

	"golang.org/x/net/html"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
	"github.com/spyder-crawl/spyder/worker/processor"
)

// varTitle is the optional var the title goes into.
const varTitle = "title"

func init() {
	processor.Register("title", func(*settings.Settings) (processor.Processor, error) {
		return processor.Func(extractTitle), nil
	})
}

// extractTitle sets the title var of an HTML page: the text of its first
// <title>, with runs of white space made one space. It reads no further
// than the title.
func extractTitle(_ context.Context, c *crawluri.CrawlUri) error {
	if mediaType, _ := c.ContentType(); !strings.Contains(mediaType, "html") || len(c.ContentBody) == 0 {
		return nil
	}
	z := html.NewTokenizer(bytes.NewReader(c.ContentBody))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return nil // the end of the page, or HTML beyond repair: no title
		case html.StartTagToken:
			if name, _ := z.TagName(); string(name) != "title" {
				continue
			}
			if z.Next() == html.TextToken {
				c.SetVar(varTitle, strings.Join(strings.Fields(string(z.Text())), " "))
			}
			return nil
		}
	}
}
