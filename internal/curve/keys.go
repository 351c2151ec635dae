// Package curve authenticates workers with CurveZMQ: key pairs and their
// files, the master's list of allowed worker keys (re-read when the file
// changes, so a worker can be enrolled without a restart), the master's own
// ZAP handler, and the socket options of both sides.
//
// The ZAP handler is ours and lives in the master's own zmq context. A CURVE
// server socket whose context has no ZAP handler accepts any client key
// (libzmq 4.3 without the draft ZMQ_ZAP_ENFORCE_DOMAIN), and pebbe/zmq4's
// AuthStart serves only the default context, with unlocked key maps.
package curve

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// KeyLen is the length of a Z85-encoded CURVE key.
const KeyLen = 40

// ErrKey is wrapped by every key and key-file error.
var ErrKey = errors.New("curve key")

// ValidKey reports whether k is a Z85-encoded 32-byte key.
func ValidKey(k string) bool {
	return len(k) == KeyLen && len(zmq.Z85decode(k)) == 32
}

// Pair is a key pair, Z85-encoded.
type Pair struct {
	Public, Secret string
}

// NewPair generates a key pair.
func NewPair() (Pair, error) {
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		return Pair{}, fmt.Errorf("%w: generating a key pair: %v", ErrKey, err)
	}
	return Pair{Public: pub, Secret: sec}, nil
}

// Files writes the pair as CZMQ-style certificates: base (the public key,
// for the other side) and base+"_secret" (both keys, mode 0600). It refuses
// to overwrite either file.
func (p Pair) Files(base, comment string) error {
	stamp := time.Now().UTC().Format(time.RFC3339)
	public := fmt.Sprintf("#   ZeroMQ CURVE Public Certificate (%s), made by spyder keygen %s\n"+
		"#   Give it to the other side: a master lists worker keys in curve_allowed_workers,\n"+
		"#   workers name the master's in curve_server_public_key.\n\n"+
		"metadata\ncurve\n    public-key = %q\n", comment, stamp, p.Public)
	secret := fmt.Sprintf("#   ZeroMQ CURVE **Secret** Certificate (%s), made by spyder keygen %s\n"+
		"#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"+
		"metadata\ncurve\n    public-key = %q\n    secret-key = %q\n", comment, stamp, p.Public, p.Secret)
	files := []struct {
		path, text string
		mode       os.FileMode
	}{{base + "_secret", secret, 0o600}, {base, public, 0o644}}
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return fmt.Errorf("%w: %s exists; not overwriting a key", ErrKey, f.path)
		}
	}
	for _, f := range files {
		file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrKey, err)
		}
		_, err = file.WriteString(f.text)
		if cerr := file.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%w: writing %s: %v", ErrKey, f.path, err)
		}
	}
	return nil
}

// PublicKey resolves a setting that names a public key: the Z85 key itself,
// or a file holding it (a certificate with a public-key line, or the key
// alone on a line).
func PublicKey(setting, value string) (string, error) {
	if ValidKey(value) {
		return value, nil
	}
	pub, _, err := readKeyFile(setting, value, "public-key")
	if err != nil {
		return "", err
	}
	if pub == "" {
		return "", fmt.Errorf("%w: %s: %s holds no public key", ErrKey, setting, value)
	}
	return pub, nil
}

// SecretKey resolves a setting that names a secret key: the Z85 key itself
// (best kept in the environment), or a secret certificate file, which must
// not be readable by group or others. It returns the pair, the public key
// derived from the secret one.
func SecretKey(setting, value string) (Pair, error) {
	secret := value
	if !ValidKey(value) {
		info, err := os.Stat(value)
		if err != nil {
			return Pair{}, fmt.Errorf("%w: %s: neither a 40-character Z85 key nor a readable key file: %v", ErrKey, setting, err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			return Pair{}, fmt.Errorf("%w: %s: %s is readable by others (mode %v); chmod 600 it", ErrKey, setting, value, info.Mode().Perm())
		}
		if _, secret, err = readKeyFile(setting, value, "secret-key"); err != nil {
			return Pair{}, err
		}
		if secret == "" {
			return Pair{}, fmt.Errorf("%w: %s: %s holds no secret-key (give the _secret file of spyder keygen)", ErrKey, setting, value)
		}
	}
	pub, err := zmq.AuthCurvePublic(secret)
	if err != nil || !ValidKey(pub) {
		return Pair{}, fmt.Errorf("%w: %s: not a usable secret key", ErrKey, setting)
	}
	return Pair{Public: pub, Secret: secret}, nil
}

// readKeyFile reads a CZMQ certificate ("public-key = ..." and
// "secret-key = ..." lines) or a file with a bare key on a line, taken as
// the kind bare names.
func readKeyFile(setting, path, bare string) (public, secret string, err error) {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: neither a 40-character Z85 key nor a readable key file: %v", ErrKey, setting, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		name, key, _ := keyLine(sc.Text())
		if name == "" {
			continue
		}
		if name == "bare" {
			name = bare
		}
		if !ValidKey(key) {
			return "", "", fmt.Errorf("%w: %s: %s:%d: %s is not a 40-character Z85 key", ErrKey, setting, path, n, name)
		}
		if name == "public-key" {
			public = key
		} else {
			secret = key
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("%w: %s: reading %s: %v", ErrKey, setting, path, err)
	}
	return public, secret, nil
}

// Loopback reports whether a bound ZeroMQ endpoint is reachable from this
// machine only: tcp on a loopback address or localhost, ipc, inproc.
func Loopback(endpoint string) bool {
	scheme, addr, ok := strings.Cut(endpoint, "://")
	if !ok {
		return false
	}
	switch scheme {
	case "ipc", "inproc":
		return true
	case "tcp":
	default:
		return false
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ClientKeys resolves the client side's settings (curve_server_public_key,
// curve_secret_key); ok is false when CURVE is not configured.
func ClientKeys(serverPublic, secret string) (server string, own Pair, ok bool, err error) {
	if serverPublic == "" {
		return "", Pair{}, false, nil
	}
	if server, err = PublicKey("curve_server_public_key", serverPublic); err != nil {
		return "", Pair{}, false, err
	}
	if own, err = SecretKey("curve_secret_key", secret); err != nil {
		return "", Pair{}, false, err
	}
	return server, own, true, nil
}

// keyLine reads one line of a key file or an allow list: a bare key with an
// optional label after it, or a certificate line (public-key = "...",
// secret-key = "..."); kind is "bare", "public-key" or "secret-key". It is
// "" for lines without a key: blank lines, comments, a certificate's
// section names and other metadata. A line that is none of these comes back
// as a bare key that is not valid.
func keyLine(line string) (kind, key, label string) {
	line = strings.TrimSpace(line)
	first, rest, _ := strings.Cut(line, " ")
	if ValidKey(first) {
		return "bare", first, strings.TrimSpace(rest)
	}
	if line == "" || line[0] == '#' || line == "metadata" || line == "curve" {
		return "", "", ""
	}
	k, v, ok := strings.Cut(line, "=")
	if !ok {
		return "bare", first, ""
	}
	switch k = strings.TrimSpace(k); k {
	case "public-key", "secret-key":
		return k, strings.Trim(strings.TrimSpace(v), `"`), ""
	}
	return "", "", ""
}
