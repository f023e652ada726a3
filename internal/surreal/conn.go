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
			return &closingConn{Conn: c}, nil
		}
	})
}

type closingConn struct{ net.Conn }

func (c *closingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		err = fmt.Errorf("%w (%v)", net.ErrClosed, err)
	}
	return n, err
}
