package pgwire

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// RFC 7677, section 3: the SCRAM-SHA-256 example exchange.
const (
	rfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
	rfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	rfcServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
	rfcClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	rfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
)

func rfcVerifier(t *testing.T, password string) *scramVerifier {
	t.Helper()
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	v, err := scramVerifierFor(password, salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestScramRFC7677(t *testing.T) {
	t.Parallel()
	v := rfcVerifier(t, "pencil")
	x, serverFirst, err := v.first([]byte(rfcClientFirst), rfcServerNonce)
	if err != nil || string(serverFirst) != rfcServerFirst {
		t.Fatalf("server-first %q %v", serverFirst, err)
	}
	serverFinal, err := x.final([]byte(rfcClientFinal))
	if err != nil || string(serverFinal) != rfcServerFinal {
		t.Fatalf("server-final %q %v", serverFinal, err)
	}
}

func TestScramRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, password, first, final string
		want                         error
	}{
		{"wrong password", "pencils", rfcClientFirst, rfcClientFinal, errScramProof},
		{"changed proof", "pencil", rfcClientFirst, rfcClientFinal[:len(rfcClientFinal)-5] + "AAAA=", errScramProof},
		{"channel binding", "pencil", "p=tls-server-end-point,,n=,r=abc", "", errScramMalformed},
		{"authzid", "pencil", "n,a=admin,n=,r=abc", "", errScramMalformed},
		{"no nonce", "pencil", "n,,n=user", "", errScramMalformed},
		{"garbage", "pencil", "hello", "", errScramMalformed},
		{"other nonce", "pencil", rfcClientFirst, strings.Replace(rfcClientFinal, "k0,p=", "k1,p=", 1), errScramMalformed},
		{"other binding", "pencil", rfcClientFirst, strings.Replace(rfcClientFinal, "c=biws", "c=eSws", 1), errScramMalformed},
		{"no proof", "pencil", rfcClientFirst, "c=biws,r=x", errScramMalformed},
	}
	for _, c := range cases {
		v := rfcVerifier(t, c.password)
		x, _, err := v.first([]byte(c.first), rfcServerNonce)
		if err == nil {
			_, err = x.final([]byte(c.final))
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
