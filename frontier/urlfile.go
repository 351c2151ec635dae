package frontier

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ReadURLFile reads a file of URLs, one per line (blank lines and lines
// starting with # are skipped), and hands them to add in batches of up to
// batchSize with the number of the last line read. It returns how many URL
// lines it read. URLs are passed as written, not normalized.
func ReadURLFile(r io.Reader, batchSize int, add func(batch []string, line int) error) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	batch := make([]string, 0, batchSize)
	line, total := 0, 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		total++
		if batch = append(batch, text); len(batch) == batchSize {
			if err := add(batch, line); err != nil {
				return total, err
			}
			batch = batch[:0]
		}
	}
	if err := sc.Err(); err != nil {
		return total, fmt.Errorf("reading line %d: %w", line+1, err)
	}
	if len(batch) == 0 {
		return total, nil
	}
	return total, add(batch, line)
}
