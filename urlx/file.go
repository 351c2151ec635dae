// file.go: reading a file of URLs (seeds), one per line.

package urlx

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ReadURLFile reads a file of URLs, one per line (blank lines and lines
// starting with # are skipped), and hands them to add in batches of up to
// batchSize, with each URL's line number (lines[i] is batch[i]'s, counted
// from 1), so that a warning can name the line a person has to fix. It
// returns how many URL lines it read. URLs are passed as written, not
// normalized.
func ReadURLFile(r io.Reader, batchSize int, add func(batch []string, lines []int) error) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	batch := make([]string, 0, batchSize)
	lines := make([]int, 0, batchSize)
	line, total := 0, 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		total++
		lines = append(lines, line)
		if batch = append(batch, text); len(batch) == batchSize {
			if err := add(batch, lines); err != nil {
				return total, err
			}
			batch, lines = batch[:0], lines[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return total, fmt.Errorf("reading line %d: %w", line+1, err)
	}
	if len(batch) == 0 {
		return total, nil
	}
	return total, add(batch, lines)
}
