// codec.go: the CrawlUri's Thrift binary encoding (spyder's wire format),
// written and read by hand for speed, with bounds on every length read.

package crawluri

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Thrift binary-protocol type ids.
const (
	tStop   = 0
	tBool   = 2
	tByte   = 3
	tDouble = 4
	tI16    = 6
	tI32    = 8
	tI64    = 10
	tString = 11
	tStruct = 12
	tMap    = 13
	tSet    = 14
	tList   = 15
)

// maxSkipDepth bounds the nesting of unknown fields a decoder will skip, so a
// crafted frame cannot recurse without end.
const maxSkipDepth = 16

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed CrawlUri")

// Encode appends the Thrift binary encoding of c to dst and returns it.
// Links set as a list (SetExtractedURLs) are written into optional_vars
// first.
func (c *CrawlUri) Encode(dst []byte) []byte {
	c.settleLinks()
	dst = appendString(dst, FieldURL, c.URL)
	if c.EffectiveURL != "" {
		dst = appendString(dst, FieldEffectiveURL, c.EffectiveURL)
	}
	if c.CurrentPriority != 0 {
		dst = appendI16(dst, FieldCurrentPriority, c.CurrentPriority)
	}
	if c.BeginProcessing != 0 {
		dst = appendI64(dst, FieldBeginProcessing, c.BeginProcessing)
	}
	if c.EndProcessing != 0 {
		dst = appendI64(dst, FieldEndProcessing, c.EndProcessing)
	}
	if len(c.ReqHeader) > 0 {
		dst = appendMap(dst, FieldReqHeader, c.ReqHeader)
	}
	if len(c.RepHeader) > 0 {
		dst = appendMap(dst, FieldRepHeader, c.RepHeader)
	}
	if len(c.ContentBody) > 0 {
		dst = appendFieldHeader(dst, tString, FieldContentBody)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.ContentBody)))
		dst = append(dst, c.ContentBody...)
	}
	if c.StatusCode != 0 {
		dst = appendI16(dst, FieldStatusCode, c.StatusCode)
	}
	if c.ReqTime != 0 {
		dst = appendDouble(dst, FieldReqTime, c.ReqTime)
	}
	if c.QueueTime != 0 {
		dst = appendDouble(dst, FieldQueueTime, c.QueueTime)
	}
	if len(c.OptionalVars) > 0 {
		dst = appendMap(dst, FieldOptionalVars, c.OptionalVars)
	}
	if c.LeaseID != 0 {
		dst = appendI64(dst, FieldLeaseID, c.LeaseID)
	}
	if c.WorkerID != "" {
		dst = appendString(dst, FieldWorkerID, c.WorkerID)
	}
	if c.Error != "" {
		dst = appendString(dst, FieldError, c.Error)
	}
	if c.BodyLength != 0 {
		dst = appendI64(dst, FieldBodyLength, c.BodyLength)
	}
	if c.OmitBody {
		dst = append(appendFieldHeader(dst, tBool, FieldOmitBody), 1)
	}
	if c.ArchiveDir != "" {
		dst = appendString(dst, FieldArchiveDir, c.ArchiveDir)
	}
	if c.Capture {
		dst = append(appendFieldHeader(dst, tBool, FieldCapture), 1)
	}
	for _, f := range []struct {
		id int16
		b  []byte
	}{{FieldRawRequest, c.RawRequest}, {FieldRawResponse, c.RawResponse}} {
		if len(f.b) > 0 {
			dst = appendFieldHeader(dst, tString, f.id)
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.b)))
			dst = append(dst, f.b...)
		}
	}
	if c.RemoteIP != "" {
		dst = appendString(dst, FieldRemoteIP, c.RemoteIP)
	}
	if c.WARCCapture != "" {
		dst = appendString(dst, FieldWARCCapture, c.WARCCapture)
	}
	if c.WARCRevisit {
		dst = append(appendFieldHeader(dst, tBool, FieldWARCRevisit), 1)
	}
	return append(dst, tStop)
}

// Marshal returns the Thrift binary encoding of c.
func (c *CrawlUri) Marshal() []byte {
	return c.Encode(make([]byte, 0, 64+len(c.URL)+len(c.ContentBody)+len(c.RawRequest)+len(c.RawResponse)))
}

func appendFieldHeader(dst []byte, typ byte, id int16) []byte {
	return append(dst, typ, byte(uint16(id)>>8), byte(id))
}

func appendString(dst []byte, id int16, s string) []byte {
	dst = appendFieldHeader(dst, tString, id)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

func appendI16(dst []byte, id int16, v int16) []byte {
	dst = appendFieldHeader(dst, tI16, id)
	return binary.BigEndian.AppendUint16(dst, uint16(v))
}

func appendI64(dst []byte, id int16, v int64) []byte {
	dst = appendFieldHeader(dst, tI64, id)
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

func appendDouble(dst []byte, id int16, v float64) []byte {
	dst = appendFieldHeader(dst, tDouble, id)
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
}

// appendMap writes a map<string,string> with sorted keys, so that equal
// records encode to equal bytes (tests and dedup of frames rely on it).
func appendMap(dst []byte, id int16, m map[string]string) []byte {
	dst = appendFieldHeader(dst, tMap, id)
	dst = append(dst, tString, tString)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m)))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(k)))
		dst = append(dst, k...)
		v := m[k]
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// Unmarshal decodes a Thrift binary CrawlUri. Unknown field ids and known ids
// with an unexpected type are skipped, as Thrift readers do. Every length and
// count is checked against the bytes left, so a hostile frame costs at most
// its own size in memory. A record without a URL is rejected.
func Unmarshal(b []byte) (*CrawlUri, error) {
	c := &CrawlUri{}
	if err := c.Unmarshal(b); err != nil {
		return nil, err
	}
	return c, nil
}

// Unmarshal decodes b into c, replacing its contents.
func (c *CrawlUri) Unmarshal(b []byte) error {
	*c = CrawlUri{}
	r := reader{b: b}
	sawURL := false
	for {
		typ, err := r.byte()
		if err != nil {
			return err
		}
		if typ == tStop {
			break
		}
		id, err := r.i16()
		if err != nil {
			return err
		}
		ok := true
		switch {
		case id == FieldURL && typ == tString:
			c.URL, err = r.string()
			sawURL = true
		case id == FieldEffectiveURL && typ == tString:
			c.EffectiveURL, err = r.string()
		case id == FieldCurrentPriority && typ == tI16:
			c.CurrentPriority, err = r.i16()
		case id == FieldBeginProcessing && typ == tI64:
			c.BeginProcessing, err = r.i64()
		case id == FieldEndProcessing && typ == tI64:
			c.EndProcessing, err = r.i64()
		case id == FieldReqHeader && typ == tMap:
			c.ReqHeader, err = r.stringMap()
		case id == FieldRepHeader && typ == tMap:
			c.RepHeader, err = r.stringMap()
		case id == FieldContentBody && typ == tString:
			c.ContentBody, err = r.bytes()
		case id == FieldStatusCode && typ == tI16:
			c.StatusCode, err = r.i16()
		case id == FieldReqTime && typ == tDouble:
			c.ReqTime, err = r.double()
		case id == FieldQueueTime && typ == tDouble:
			c.QueueTime, err = r.double()
		case id == FieldOptionalVars && typ == tMap:
			c.OptionalVars, err = r.stringMap()
		case id == FieldLeaseID && typ == tI64:
			c.LeaseID, err = r.i64()
		case id == FieldWorkerID && typ == tString:
			c.WorkerID, err = r.string()
		case id == FieldError && typ == tString:
			c.Error, err = r.string()
		case id == FieldBodyLength && typ == tI64:
			c.BodyLength, err = r.i64()
		case id == FieldOmitBody && typ == tBool:
			c.OmitBody, err = r.bool()
		case id == FieldArchiveDir && typ == tString:
			c.ArchiveDir, err = r.string()
		case id == FieldCapture && typ == tBool:
			c.Capture, err = r.bool()
		case id == FieldRawRequest && typ == tString:
			c.RawRequest, err = r.bytes()
		case id == FieldRawResponse && typ == tString:
			c.RawResponse, err = r.bytes()
		case id == FieldRemoteIP && typ == tString:
			c.RemoteIP, err = r.string()
		case id == FieldWARCCapture && typ == tString:
			c.WARCCapture, err = r.string()
		case id == FieldWARCRevisit && typ == tBool:
			c.WARCRevisit, err = r.bool()
		default:
			ok = false
		}
		if !ok {
			err = r.skip(typ, 0)
		}
		if err != nil {
			return fmt.Errorf("field %d: %w", id, err)
		}
	}
	if r.off != len(b) {
		return fmt.Errorf("%w: %d trailing bytes after STOP", ErrMalformed, len(b)-r.off)
	}
	if c.BodyLength < 0 {
		return fmt.Errorf("%w: negative body length %d (field 16)", ErrMalformed, c.BodyLength)
	}
	if !sawURL || c.URL == "" {
		return fmt.Errorf("%w: no url (field 1)", ErrMalformed)
	}
	return nil
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) need(n int) error {
	if n < 0 || len(r.b)-r.off < n {
		return fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrMalformed, n, r.off, len(r.b)-r.off)
	}
	return nil
}

func (r *reader) byte() (byte, error) {
	if err := r.need(1); err != nil {
		return 0, err
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

func (r *reader) bool() (bool, error) {
	if err := r.need(1); err != nil {
		return false, err
	}
	v := r.b[r.off] != 0
	r.off++
	return v, nil
}

func (r *reader) i16() (int16, error) {
	if err := r.need(2); err != nil {
		return 0, err
	}
	v := int16(binary.BigEndian.Uint16(r.b[r.off:]))
	r.off += 2
	return v, nil
}

func (r *reader) i32() (int32, error) {
	if err := r.need(4); err != nil {
		return 0, err
	}
	v := int32(binary.BigEndian.Uint32(r.b[r.off:]))
	r.off += 4
	return v, nil
}

func (r *reader) i64() (int64, error) {
	if err := r.need(8); err != nil {
		return 0, err
	}
	v := int64(binary.BigEndian.Uint64(r.b[r.off:]))
	r.off += 8
	return v, nil
}

func (r *reader) double() (float64, error) {
	v, err := r.i64()
	return math.Float64frombits(uint64(v)), err
}

// length reads an i32 length or count whose elements take at least minSize
// bytes each, and rejects it unless that many bytes are left.
func (r *reader) length(minSize int) (int, error) {
	n, err := r.i32()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, fmt.Errorf("%w: negative length %d", ErrMalformed, n)
	}
	if minSize > 0 && int64(n)*int64(minSize) > int64(len(r.b)-r.off) {
		return 0, fmt.Errorf("%w: length %d exceeds the %d bytes left", ErrMalformed, n, len(r.b)-r.off)
	}
	return int(n), nil
}

func (r *reader) raw() ([]byte, error) {
	n, err := r.length(1)
	if err != nil {
		return nil, err
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v, nil
}

func (r *reader) string() (string, error) {
	v, err := r.raw()
	return string(v), err
}

func (r *reader) bytes() ([]byte, error) {
	v, err := r.raw()
	if err != nil || len(v) == 0 {
		return nil, err
	}
	return append([]byte(nil), v...), nil
}

func (r *reader) stringMap() (map[string]string, error) {
	kt, err := r.byte()
	if err != nil {
		return nil, err
	}
	vt, err := r.byte()
	if err != nil {
		return nil, err
	}
	if kt != tString || vt != tString {
		return nil, fmt.Errorf("%w: map<%d,%d>, want map<string,string>", ErrMalformed, kt, vt)
	}
	n, err := r.length(8)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		k, err := r.string()
		if err != nil {
			return nil, err
		}
		v, err := r.string()
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

// fixedSize is the encoded size of Thrift's fixed-width types, 0 for others.
func fixedSize(typ byte) int {
	switch typ {
	case tBool, tByte:
		return 1
	case tI16:
		return 2
	case tI32:
		return 4
	case tDouble, tI64:
		return 8
	}
	return 0
}

// skip consumes one value of type typ without keeping it.
func (r *reader) skip(typ byte, depth int) error {
	if depth > maxSkipDepth {
		return fmt.Errorf("%w: nesting deeper than %d", ErrMalformed, maxSkipDepth)
	}
	if n := fixedSize(typ); n > 0 {
		if err := r.need(n); err != nil {
			return err
		}
		r.off += n
		return nil
	}
	switch typ {
	case tString:
		_, err := r.raw()
		return err
	case tStruct:
		for {
			ft, err := r.byte()
			if err != nil {
				return err
			}
			if ft == tStop {
				return nil
			}
			if _, err := r.i16(); err != nil {
				return err
			}
			if err := r.skip(ft, depth+1); err != nil {
				return err
			}
		}
	case tMap:
		kt, err := r.byte()
		if err != nil {
			return err
		}
		vt, err := r.byte()
		if err != nil {
			return err
		}
		n, err := r.length(max(1, fixedSize(kt)+fixedSize(vt)))
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skip(kt, depth+1); err != nil {
				return err
			}
			if err := r.skip(vt, depth+1); err != nil {
				return err
			}
		}
		return nil
	case tSet, tList:
		et, err := r.byte()
		if err != nil {
			return err
		}
		n, err := r.length(max(1, fixedSize(et)))
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := r.skip(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: unknown Thrift type %d", ErrMalformed, typ)
}

// ExtractedURLs returns the links a worker put into optional_vars
// ("extracted_urls", newline separated, as spyder wrote them), split once
// and kept as a list from then on. The slice is the CrawlUri's: change
// the links through SetExtractedURLs.
func (c *CrawlUri) ExtractedURLs() []string {
	if c.linksSet {
		return c.links
	}
	s := c.OptionalVars[VarExtractedURLs]
	if s == "" {
		return nil
	}
	parts := strings.Split(s, "\n")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	delete(c.OptionalVars, VarExtractedURLs)
	c.links, c.linksSet = out, true
	return out
}

// SetExtractedURLs replaces the extracted links (optional_vars'
// extracted_urls once encoded).
func (c *CrawlUri) SetExtractedURLs(urls []string) {
	if c.OptionalVars != nil {
		delete(c.OptionalVars, VarExtractedURLs)
	}
	c.links, c.linksSet = urls, true
}

// settleLinks writes the list of links into optional_vars, as the wire
// carries them.
func (c *CrawlUri) settleLinks() {
	if !c.linksSet {
		return
	}
	if len(c.links) > 0 {
		c.SetVar(VarExtractedURLs, strings.Join(c.links, "\n")) // and links are no longer set
		return
	}
	c.links, c.linksSet = nil, false
}
