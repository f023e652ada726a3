// Package publishtest gives tests a JetStream stream of their own on the
// test NATS server, and reads back what was published to it.
package publishtest

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pgsurreal/pgsurreal/internal/config"
	"github.com/pgsurreal/pgsurreal/internal/publish"
	"github.com/pgsurreal/pgsurreal/internal/testenv"
)

// Stream is one test's stream: a unique name and subject prefix, deleted
// when the test ends (unless PGSURREAL_TEST_KEEP=1).
type Stream struct {
	// Config is publish configuration that publishes to the stream.
	Config config.Publish
	JS     jetstream.JetStream
}

// New names a stream for t; the publisher under test creates it.
func New(t testing.TB) *Stream {
	t.Helper()
	url := testenv.NATSURL(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connecting to NATS at %s: %v", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	name := testenv.Name(t)
	cfg := config.Default().Publish
	cfg.NATSURL = url
	cfg.Stream = strings.ToUpper(name)
	cfg.SubjectPrefix = "pgsurreal_test." + name
	s := &Stream{Config: cfg, JS: js}
	t.Cleanup(func() {
		if os.Getenv("PGSURREAL_TEST_KEEP") == "1" {
			t.Logf("kept stream %s", cfg.Stream)
		} else {
			_ = js.DeleteStream(context.Background(), cfg.Stream)
		}
		nc.Close()
	})
	return s
}

// Message is one stored message.
type Message struct {
	Seq     uint64
	Subject string
	ID      string
	Header  nats.Header
	Body    publish.Body
}

// Messages reads every message of the stream in order.
func (s *Stream) Messages(t testing.TB) []Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := s.JS.Stream(ctx, s.Config.Stream)
	if err != nil {
		t.Fatalf("stream %s: %v", s.Config.Stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []Message
	for uint64(len(out)) < info.State.Msgs {
		batch, err := cons.Fetch(int(min(1000, info.State.Msgs-uint64(len(out)))), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			rm := Message{Seq: md.Sequence.Stream, Subject: m.Subject(), ID: m.Headers().Get(jetstream.MsgIDHeader), Header: m.Headers()}
			if err := json.Unmarshal(m.Data(), &rm.Body); err != nil {
				t.Fatalf("message %d (%s) is not a publish.Body: %v: %s", rm.Seq, rm.ID, err, m.Data())
			}
			out = append(out, rm)
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("read %d of %d messages of %s, then nothing more came", len(out), info.State.Msgs, s.Config.Stream)
		}
	}
	return out
}
