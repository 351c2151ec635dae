// htmlscan.go: the start tags of an HTML document, found as x/net/html's
// tokenizer finds them, by a scanner over the document in memory.
//
// Link extraction needs only the start tags and a few attributes, but
// where a tag starts depends on everything before it: comments, raw text
// (script, style, ...), quoted attribute values holding '>'. The tokenizer
// gets all of that right and costs half a worker's CPU, reading byte by
// byte through its buffer and lower-casing a copy of every attribute name.
// This scanner follows the tokenizer's states (its Next, readTag,
// readRawOrRCDATA, readScript, readComment and readMarkupDeclaration, in
// x/net v0.62.0) on a []byte, jumps over text with bytes.IndexByte, and
// reads attributes only where they are asked for. FuzzExtractLinks holds
// it to the tokenizer on any input.

package processor

import (
	"bytes"

	"golang.org/x/net/html"
)

// span is buf[start:end].
type span struct{ start, end int }

// attrSpan is one attribute of a tag: its name as written and its value
// before entities are decoded.
type attrSpan struct{ key, val span }

// tagScanner reads the start tags of buf in order.
type tagScanner struct {
	buf []byte
	p   int
	// rawTag is the lower-case name of the start tag just read when its
	// content is raw text up to its end tag (the tokenizer's rawTag).
	rawTag string
	attrs  []attrSpan // of the last start tag read with attributes
}

// next moves to the next start tag (self-closing or not) and returns its
// span, from '<' to after '>'. withAttrs says, given the tag's name as
// written, whether its attributes are wanted (attr). ok is false at the
// end of the document, and for a tag the document ends in.
func (s *tagScanner) next(withAttrs func(name []byte) bool) (tag span, ok bool) {
	buf := s.buf
	for {
		if s.rawTag != "" {
			s.skipRawText()
		}
		i := bytes.IndexByte(buf[s.p:], '<')
		if i < 0 || s.p+i+1 >= len(buf) {
			s.p = len(buf)
			return tag, false
		}
		lt := s.p + i
		switch c := buf[lt+1]; {
		case isLetter(c):
			end, nm, ok := s.readTag(lt+1, withAttrs)
			if !ok {
				s.p = len(buf)
				return tag, false
			}
			s.p = end
			s.rawTag = rawTextElement(buf[nm.start:nm.end])
			return span{lt, end}, true
		case c == '/':
			s.p = s.endTag(lt + 2)
		case c == '!':
			s.p = s.markupDeclaration(lt + 2)
		case c == '?':
			s.p = s.untilCloseAngle(lt + 1)
		default:
			s.p = lt + 1 // text: the '<' and whatever follows it
		}
	}
}

// attr is the value of the first attribute of the last tag read whose
// name is want (lower-case), entities decoded; tag is that tag's span.
func (s *tagScanner) attr(tag span, want string) (string, bool) {
	for _, a := range s.attrs {
		if !equalFoldASCII(s.buf[a.key.start:a.key.end], want) {
			continue
		}
		val := s.buf[a.val.start:a.val.end]
		switch {
		case bytes.IndexAny(val, "&\r\x00") < 0:
			return string(val), true
		case bytes.IndexAny(val, "\r\x00") < 0 && sameUnescapedInText(val):
			return html.UnescapeString(string(val)), true
		}
		// Named references other than &amp;, carriage returns, NULs: the
		// tokenizer's own decoding, on the tag alone, which it reads as the
		// same tag.
		z := html.NewTokenizer(bytes.NewReader(s.buf[tag.start:tag.end]))
		z.Next()
		return attr(z, want)
	}
	return "", false
}

// sameUnescapedInText: html.UnescapeString decodes val as the tokenizer
// decodes an attribute value. The two differ only on a named reference
// without its ';' (in a value, "&copy=1" and "&ampx" stay as they are), so
// every '&' here is &amp;, a numeric reference, or not a reference at all
// (not followed by a letter or digit).
func sameUnescapedInText(val []byte) bool {
	for i := bytes.IndexByte(val, '&'); i >= 0; {
		rest := val[i+1:]
		if len(rest) > 0 && rest[0] != '#' && !bytes.HasPrefix(rest, []byte("amp;")) && (isLetter(rest[0]) || '0' <= rest[0] && rest[0] <= '9') {
			return false
		}
		j := bytes.IndexByte(rest, '&')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' }

// equalFoldASCII: b equals the lower-case want, ignoring ASCII case.
func equalFoldASCII(b []byte, want string) bool {
	if len(b) != len(want) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// rawTextElements are the elements whose content the tokenizer reads as
// raw text up to their end tag.
var rawTextElements = []string{"iframe", "noembed", "noframes", "noscript", "plaintext", "script", "style", "textarea", "title", "xmp"}

// rawTextElement is the lower-case name of a start tag whose content is
// raw text, or "".
func rawTextElement(name []byte) string {
	for _, e := range rawTextElements {
		if equalFoldASCII(name, e) {
			return e
		}
	}
	return ""
}

// readTag reads a tag from its name, which starts at p (a letter; the
// tokenizer's readTag), to after its '>'. The attributes are kept in
// s.attrs when withAttrs (nil: never) wants them. ok is false when the
// document ends inside the tag.
func (s *tagScanner) readTag(p int, withAttrs func([]byte) bool) (end int, name span, ok bool) {
	buf := s.buf
	q := p + 1
	for ; ; q++ {
		if q >= len(buf) {
			return 0, name, false
		}
		if c := buf[q]; isSpace(c) || c == '/' || c == '>' {
			break
		}
	}
	name = span{p, q}
	if isSpace(buf[q]) {
		q++
	}
	save := withAttrs != nil && withAttrs(buf[name.start:name.end])
	s.attrs = s.attrs[:0]
	for {
		if q = skipSpace(buf, q); q >= len(buf) {
			return 0, name, false
		}
		if buf[q] == '>' {
			return q + 1, name, true
		}
		// The attribute's name: a '=' is part of it only first.
		key := span{q, q}
		for {
			if q >= len(buf) {
				return 0, name, false
			}
			c := buf[q]
			if c == '=' && q > key.start || isSpace(c) || c == '/' || c == '>' {
				break
			}
			q++
		}
		key.end = q
		// Its value, if a '=' follows.
		val := span{q, q}
		if q = skipSpace(buf, q); q >= len(buf) {
			return 0, name, false
		}
		switch buf[q] {
		case '/':
			q++
		case '=':
			if q = skipSpace(buf, q+1); q >= len(buf) {
				return 0, name, false
			}
			switch quote := buf[q]; quote {
			case '>':
			case '\'', '"':
				j := bytes.IndexByte(buf[q+1:], quote)
				if j < 0 {
					return 0, name, false
				}
				val = span{q + 1, q + 1 + j}
				q = val.end + 1
			default:
				val.start = q
				for q++; ; q++ {
					if q >= len(buf) {
						return 0, name, false
					}
					if c := buf[q]; isSpace(c) {
						val.end = q
						q++
						break
					} else if c == '>' {
						val.end = q
						break
					}
				}
			}
		}
		if save && key.end > key.start {
			s.attrs = append(s.attrs, attrSpan{key, val})
		}
	}
}

func skipSpace(buf []byte, q int) int {
	for q < len(buf) && isSpace(buf[q]) {
		q++
	}
	return q
}

// endTag reads what follows "</" at p: an end tag, "</>", or a bogus
// comment up to '>'; it returns where the next token starts.
func (s *tagScanner) endTag(p int) int {
	if p >= len(s.buf) {
		return len(s.buf)
	}
	switch c := s.buf[p]; {
	case c == '>':
		return p + 1
	case isLetter(c):
		end, _, ok := s.readTag(p, nil)
		if !ok {
			return len(s.buf)
		}
		return end
	}
	return s.untilCloseAngle(p)
}

// untilCloseAngle is where the next token starts after the first '>' at
// or after p.
func (s *tagScanner) untilCloseAngle(p int) int {
	j := bytes.IndexByte(s.buf[p:], '>')
	if j < 0 {
		return len(s.buf)
	}
	return p + j + 1
}

// markupDeclaration reads what follows "<!" at p: a comment, or a
// doctype or bogus comment, both up to the first '>'.
func (s *tagScanner) markupDeclaration(p int) int {
	buf := s.buf
	if p+1 >= len(buf) {
		return len(buf)
	}
	if buf[p] != '-' || buf[p+1] != '-' {
		return s.untilCloseAngle(p)
	}
	dashes, beginning := 0, true
	for q := p + 2; q < len(buf); q++ {
		switch buf[q] {
		case '-':
			dashes++
			continue
		case '>':
			if dashes >= 2 || beginning {
				return q + 1
			}
		case '!':
			if dashes >= 2 {
				if q++; q >= len(buf) {
					return len(buf)
				}
				switch buf[q] {
				case '>':
					return q + 1
				case '-':
					dashes, beginning = 1, false
					continue
				}
			}
		}
		dashes, beginning = 0, false
	}
	return len(buf)
}

// skipRawText moves past the content of the raw text element just opened,
// to its end tag (which the next token is).
func (s *tagScanner) skipRawText() {
	tag := s.rawTag
	s.rawTag = ""
	switch tag {
	case "plaintext":
		s.p = len(s.buf)
	case "script":
		s.p = s.scriptEnd(s.p)
	default:
		for q := s.p; ; {
			i := bytes.IndexByte(s.buf[q:], '<')
			if i < 0 {
				s.p = len(s.buf)
				return
			}
			lt := q + i
			if lt+1 < len(s.buf) && s.buf[lt+1] == '/' {
				if found, _ := s.rawEndTag(lt+2, tag); found {
					s.p = lt
					return
				}
			}
			q = lt + 1
		}
	}
}

// rawEndTag: at p (after "</") is the end tag of the raw text element tag
// (its name in any case, then a space, '/' or '>'). Otherwise next is the
// first byte that does not match, read again by the caller.
func (s *tagScanner) rawEndTag(p int, tag string) (found bool, next int) {
	buf := s.buf
	for i := 0; i < len(tag); i++ {
		if p+i >= len(buf) {
			return false, len(buf)
		}
		if c := buf[p+i]; c != tag[i] && c != tag[i]-('a'-'A') {
			return false, p + i
		}
	}
	q := p + len(tag)
	if q >= len(buf) {
		return false, len(buf)
	}
	if c := buf[q]; isSpace(c) || c == '/' || c == '>' {
		return true, q + 1
	}
	return false, q
}

// The states of script data (HTML's tokenization §13.2.5.4 on): a
// "</script" ends it, except inside "<!--" ... "<script" ... "-->". Each
// escaped group is its state, then dash, dash dash and less-than, in that
// order (scriptEnd counts on it).
const (
	scriptData = iota
	scriptLessThan
	scriptEscapeStart
	scriptEscapeStartDash
	scriptEscaped
	scriptEscapedDash
	scriptEscapedDashDash
	scriptEscapedLessThan
	scriptDoubleEscaped
	scriptDoubleEscapedDash
	scriptDoubleEscapedDashDash
	scriptDoubleEscapedLessThan
)

// scriptEnd is where the script's content that starts at p ends: at the
// '<' of its end tag, or at the end of the document.
func (s *tagScanner) scriptEnd(p int) int {
	buf := s.buf
	state := scriptData
	q := p
	for {
		if state == scriptData {
			i := bytes.IndexByte(buf[q:], '<')
			if i < 0 {
				return len(buf)
			}
			q += i + 1
			state = scriptLessThan
			continue
		}
		if q >= len(buf) {
			return len(buf)
		}
		c := buf[q]
		q++
		switch state {
		case scriptLessThan:
			switch c {
			case '/':
				found, next := s.rawEndTag(q, "script")
				if found {
					return q - 2
				}
				q, state = next, scriptData
			case '!':
				state = scriptEscapeStart
			default:
				q, state = q-1, scriptData
			}
		case scriptEscapeStart, scriptEscapeStartDash:
			switch {
			case c != '-':
				q, state = q-1, scriptData
			case state == scriptEscapeStart:
				state = scriptEscapeStartDash
			default:
				state = scriptEscapedDashDash
			}
		case scriptEscaped, scriptEscapedDash, scriptEscapedDashDash,
			scriptDoubleEscaped, scriptDoubleEscapedDash, scriptDoubleEscapedDashDash:
			// The same four steps in both groups of states: "-", "--",
			// "<", and "-->" back to script data.
			group := scriptEscaped
			if state >= scriptDoubleEscaped {
				group = scriptDoubleEscaped
			}
			switch {
			case c == '-' && state == group:
				state = group + 1 // dash
			case c == '-':
				state = group + 2 // dash dash
			case c == '<':
				state = group + 3 // less-than
			case c == '>' && state == group+2:
				state = scriptData
			default:
				state = group
			}
		case scriptEscapedLessThan:
			switch {
			case c == '/':
				found, next := s.rawEndTag(q, "script")
				if found {
					return q - 2
				}
				q, state = next, scriptEscaped
			case isLetter(c):
				// "<script" followed by a space, '/' or '>' starts the
				// double-escaped state.
				q--
				matched := 0
				for matched < len("script") && q < len(buf) && (buf[q] == "script"[matched] || buf[q] == "SCRIPT"[matched]) {
					q++
					matched++
				}
				switch {
				case q >= len(buf):
					return len(buf)
				case matched < len("script"):
					state = scriptEscaped
				case isSpace(buf[q]) || buf[q] == '/' || buf[q] == '>':
					q++
					state = scriptDoubleEscaped
				default:
					state = scriptEscaped
				}
			default:
				q, state = q-1, scriptData
			}
		case scriptDoubleEscapedLessThan:
			if c != '/' {
				q, state = q-1, scriptDoubleEscaped
				break
			}
			found, next := s.rawEndTag(q, "script")
			switch {
			case found:
				q, state = next, scriptEscaped
			case next >= len(buf):
				return len(buf)
			default:
				q, state = next, scriptDoubleEscaped
			}
		}
	}
}
