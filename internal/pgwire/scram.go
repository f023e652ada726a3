package pgwire

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/text/secure/precis"
)

// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: no channel
// binding (only "SCRAM-SHA-256" is offered), the user name in the
// messages is ignored in favour of the startup packet's.
const (
	scramMechanism  = "SCRAM-SHA-256"
	scramIterations = 4096
	scramSaltLen    = 16
	scramNonceLen   = 18
)

// scramVerifier is what PostgreSQL stores for a SCRAM password: the
// password itself is not needed after it is built.
type scramVerifier struct {
	salt      []byte
	iters     int
	storedKey []byte
	serverKey []byte
}

// newScramVerifier derives the keys with a fresh random salt.
func newScramVerifier(password string) (*scramVerifier, error) {
	salt := make([]byte, scramSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	return scramVerifierFor(password, salt, scramIterations)
}

func scramVerifierFor(password string, salt []byte, iters int) (*scramVerifier, error) {
	salted, err := pbkdf2.Key(sha256.New, saslPrep(password), salt, iters, sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("deriving the SCRAM key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	return &scramVerifier{salt: salt, iters: iters, storedKey: stored[:], serverKey: hmacSHA256(salted, "Server Key")}, nil
}

// saslPrep normalizes the password as clients do before hashing it;
// a password SASLprep rejects is used as is, as PostgreSQL does.
func saslPrep(p string) string {
	if n, err := precis.OpaqueString.String(p); err == nil {
		return n
	}
	return p
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// errScramMalformed is a protocol violation in a SCRAM message.
var errScramMalformed = errors.New("malformed SCRAM message")

// errScramProof is a wrong password.
var errScramProof = errors.New("SCRAM proof does not match")

// scramExchange is one client's authentication in progress.
type scramExchange struct {
	v               *scramVerifier
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	nonce           string
}

// newServerNonce returns printable random characters without commas.
func newServerNonce() (string, error) {
	b := make([]byte, scramNonceLen)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// first reads the client-first-message and returns server-first-message.
func (v *scramVerifier) first(clientFirst []byte, serverNonce string) (*scramExchange, []byte, error) {
	msg := string(clientFirst)
	flag, rest, ok1 := strings.Cut(msg, ",")
	authzid, bare, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("%w: no GS2 header", errScramMalformed)
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return nil, nil, fmt.Errorf("%w: channel binding was not offered", errScramMalformed)
	default:
		return nil, nil, fmt.Errorf("%w: unexpected channel-binding flag %q", errScramMalformed, flag)
	}
	if authzid != "" {
		return nil, nil, fmt.Errorf("%w: authorization identities are not supported", errScramMalformed)
	}
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") || len(attrs[1]) == 2 {
		return nil, nil, fmt.Errorf("%w: expected n= and r= attributes", errScramMalformed)
	}
	clientNonce := attrs[1][2:]
	x := &scramExchange{v: v, gs2Header: flag + "," + authzid + ",", clientFirstBare: bare, nonce: clientNonce + serverNonce}
	x.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", x.nonce, base64.StdEncoding.EncodeToString(v.salt), v.iters)
	return x, []byte(x.serverFirst), nil
}

// final checks the client-final-message's proof and returns
// server-final-message. errScramProof means a wrong password.
func (x *scramExchange) final(clientFinal []byte) ([]byte, error) {
	msg := string(clientFinal)
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return nil, fmt.Errorf("%w: no proof", errScramMalformed)
	}
	withoutProof, proofB64 := msg[:i], msg[i+3:]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return nil, fmt.Errorf("%w: expected c= and r= attributes", errScramMalformed)
	}
	cb, err := base64.StdEncoding.DecodeString(attrs[0][2:])
	if err != nil || string(cb) != x.gs2Header {
		return nil, fmt.Errorf("%w: channel binding does not match", errScramMalformed)
	}
	if attrs[1][2:] != x.nonce {
		return nil, fmt.Errorf("%w: nonce does not match", errScramMalformed)
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != sha256.Size {
		return nil, fmt.Errorf("%w: bad proof", errScramMalformed)
	}
	authMessage := x.clientFirstBare + "," + x.serverFirst + "," + withoutProof
	sig := hmacSHA256(x.v.storedKey, authMessage)
	clientKey := make([]byte, sha256.Size)
	for i := range clientKey {
		clientKey[i] = proof[i] ^ sig[i]
	}
	stored := sha256.Sum256(clientKey)
	if subtle.ConstantTimeCompare(stored[:], x.v.storedKey) != 1 {
		return nil, errScramProof
	}
	serverSig := hmacSHA256(x.v.serverKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig)), nil
}
