// csv.go: the CSV sink, one row per result with the extracted fields as
// columns (output_csv, output_fields), and the fields' output form shared
// with JSON Lines.

package master

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spyder-crawl/spyder/crawluri"
	"github.com/spyder-crawl/spyder/settings"
)

// outputFields are the extracted fields the outputs write (output_fields,
// or css_extract's names), and which of them are lists.
type outputFields struct {
	names []string
	lists map[string]bool
}

func outputFieldsOf(s *settings.Settings) outputFields {
	return outputFields{names: s.OutputFieldNames(), lists: s.ListFields()}
}

// value is a field's value for JSON: a list field's JSON array as an
// array, anything else (and a list whose text is not an array) a string.
func (o outputFields) value(name, v string) any {
	if o.lists[name] && json.Valid([]byte(v)) && strings.HasPrefix(v, "[") {
		return json.RawMessage(v)
	}
	return v
}

// csvColumns are the columns every CSV row has before the fields.
var csvColumns = []string{"url", "status", "content_type", "bytes", "fetch_time", "time"}

// CSVSink writes one row per result to a CSV file (RFC 4180): csvColumns,
// then one column per output field, empty where a result has none. A list
// field's cell is its JSON array. The header row opens a new file; a file
// that exists must have the same header, so that a resumed crawl never
// appends rows under other columns. Line breaks in a cell become spaces:
// every row is one line, which is what lets a resumed crawl cut a row a
// kill left half-written (lineFile).
type CSVSink struct {
	lineFile
	allResults
	fields outputFields
	header []string
	row    []string
	buf    bytes.Buffer
	cw     *csv.Writer
}

// NewCSVSink appends to (or creates) path, with the columns of fields.
func NewCSVSink(path string, fields outputFields) (*CSVSink, error) {
	s := &CSVSink{lineFile: lineFile{path: path, what: "CSV output"}, fields: fields}
	s.allResults.write = s.write
	s.header = append(slices.Clone(csvColumns), fields.names...)
	s.cw = csv.NewWriter(&s.buf)
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("opening CSV output: %w", err)
	}
	if err := s.checkHeader(); err != nil {
		s.f.Close()
		return nil, err
	}
	return s, nil
}

// checkHeader writes the header row to an empty file, or checks that the
// file's first row is the header.
func (s *CSVSink) checkHeader() error {
	first, err := bufio.NewReader(io.NewSectionReader(s.f, 0, 1<<20)).ReadString('\n')
	if err != nil && err != io.EOF {
		return fmt.Errorf("reading the header of %s: %w", s.path, err)
	}
	if first == "" {
		if err := s.writeRow(s.header); err != nil {
			return err
		}
		return s.Flush()
	}
	got, err := csv.NewReader(strings.NewReader(first)).Read()
	if err != nil || !slices.Equal(got, s.header) {
		return fmt.Errorf("%w: output_csv: %s has the columns %q, and this crawl writes %q (output_fields, css_extract): name a new file",
			settings.ErrInvalid, s.path, strings.TrimSpace(first), strings.Join(s.header, ","))
	}
	return nil
}

// NeedsBody implements BodyNeeder: a row has the body's size and media
// type and the fields the workers extracted.
func (s *CSVSink) NeedsBody() bool { return false }

func (s *CSVSink) write(c *crawluri.CrawlUri) error {
	mt, _ := c.ContentType()
	s.row = append(s.row[:0], c.URL, strconv.Itoa(int(c.StatusCode)), mt, strconv.FormatInt(c.BodySize(), 10),
		strconv.FormatFloat(c.ReqTime, 'f', -1, 64), time.Now().UTC().Format(time.RFC3339Nano))
	for _, name := range s.fields.names {
		s.row = append(s.row, c.OptionalVars[crawluri.FieldVar(name)])
	}
	return s.writeRow(s.row)
}

// oneLine replaces line breaks, which a quoted CSV cell may hold, with
// spaces.
var oneLine = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ")

func (s *CSVSink) writeRow(row []string) error {
	for i, v := range row {
		if strings.ContainsAny(v, "\r\n") {
			row[i] = oneLine.Replace(v)
		}
	}
	s.buf.Reset()
	if err := s.cw.Write(row); err != nil {
		return fmt.Errorf("encoding a CSV row: %w", err)
	}
	s.cw.Flush()
	return s.writeLine(s.buf.Bytes())
}
