package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/iobridge/iobridge/config"
	"github.com/iobridge/iobridge/telemetry/otelsdk"
)

// newTelemetry sets up OpenTelemetry from [telemetry] and the OTEL_*
// environment: metrics always (GET /metrics), spans when an OTLP endpoint
// is configured.
func newTelemetry(cfg *config.Config, logger *slog.Logger) (*otelsdk.Telemetry, error) {
	tc := cfg.Telemetry
	tel, err := otelsdk.New(context.Background(), otelsdk.Config{
		OTLPEndpoint:   tc.OTLPEndpoint,
		Protocol:       tc.Protocol,
		ServiceName:    tc.ServiceName,
		ServiceVersion: version,
		SampleRatio:    tc.SampleRatio,
		RuntimeMetrics: tc.RuntimeMetrics,
		Getenv:         os.LookupEnv,
		Logger:         logger.With("component", "telemetry"),
	})
	if err != nil {
		return nil, err
	}
	if tel.Tracing() {
		logger.Info("telemetry: tracing on", "otlp_endpoint", tc.OTLPEndpoint, "protocol", tc.Protocol, "sample_ratio", tc.SampleRatio)
	}
	return tel, nil
}
