package auditlog

import (
	"io"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// Name is the audit logger's name: its lines carry "logger":"audit".
const Name = "audit"

// New returns the audit logger, writing one JSON line per record to w at
// Info level, without sampling. Its lines look like controller-runtime's
// production JSON lines (RFC 3339 "ts", "level", "logger", "msg", Kubernetes
// objects as namespace/name), so one log pipeline reads both.
func New(w io.Writer) logr.Logger {
	cfg := zap.NewProductionEncoderConfig()
	cfg.EncodeTime = zapcore.RFC3339TimeEncoder
	enc := &ctrlzap.KubeAwareEncoder{Encoder: zapcore.NewJSONEncoder(cfg)}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), zapcore.InfoLevel)
	return zapr.NewLogger(zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w))))).WithName(Name)
}
