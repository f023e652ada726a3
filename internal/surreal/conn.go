package surreal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/surrealdb/surrealdb.go/pkg/connection/gorillaws"
)

var dialerOnce sync.Once

// fixReadErrors makes every read error of the SDK's WebSocket connections
// wrap net.ErrClosed. The SDK's read loop (surrealdb.go v1.3.0) stops only
// on net.ErrClosed or a WebSocket close frame; on any other error, such as
// "connection reset by peer" when the server dies, it reads again, and
// gorilla/websocket panics after 1,000 reads of a failed connection,
// taking the whole process down. With this, a lost server ends the
// connection and callers reconnect.
func fixReadErrors() {
	dialerOnce.Do(func() {
		base := &net.Dialer{}
		gorillaws.DefaultDialer.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := base.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			st, _ := ctx.Value(connStateKey{}).(*connState)
			return &closingConn{Conn: c, st: st}, nil
		}
	})
}

// connState tells a Client that its connection died: requests already
// sent on it would otherwise wait for surreal.timeout (the SDK does not
// fail them when its read loop ends).
type connState struct {
	once sync.Once
	dead chan struct{}
}

func newConnState() *connState { return &connState{dead: make(chan struct{})} }

func (s *connState) died() {
	if s != nil {
		s.once.Do(func() { close(s.dead) })
	}
}

// connStateKey carries a *connState from Dial to the dialer.
type connStateKey struct{}

type closingConn struct {
	net.Conn
	st *connState
}

func (c *closingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.st.died()
		if !errors.Is(err, net.ErrClosed) {
			err = fmt.Errorf("%w (%v)", net.ErrClosed, err)
		}
	}
	return n, err
}
