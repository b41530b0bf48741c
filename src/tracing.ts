import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';

/**
 * OpenTelemetry tracing of workflows and activities, switched on by `AGENT_OTEL`: `otlp` exports to a
 * collector (the standard `OTEL_EXPORTER_OTLP_ENDPOINT`, default http://localhost:4318), `console`
 * prints spans (for trying it out). Off when unset.
 */
export function tracingPlugin(
  mode: 'otlp' | 'console' | undefined,
  serviceName = 'claude-agent-worker',
): OpenTelemetryPlugin | undefined {
  if (!mode) return undefined;
  const spanProcessor =
    mode === 'otlp'
      ? new BatchSpanProcessor(new OTLPTraceExporter())
      : new SimpleSpanProcessor(new ConsoleSpanExporter());
  const resource = new Resource({ 'service.name': serviceName });
  // Workflow spans leave the sandbox through a sink; activity spans (and the Anthropic calls inside
  // them) use the global OpenTelemetry API, which needs a registered provider.
  const provider = new BasicTracerProvider({ resource });
  provider.addSpanProcessor(spanProcessor);
  provider.register();
  return new OpenTelemetryPlugin({ resource, spanProcessor });
}
