// Telemetry (v1alpha1 and v1 share one schema): CRD shape and istio/istio ValidateTelemetry —
// provider names, tag overrides (UPSERT needs a value, REMOVE forbids one), sampling 0–100,
// custom tags. Sluice also parses the CEL in access-log filters and tag values: Envoy would
// reject an expression that does not parse, so we refuse it at load time.

import { celModule } from '../../util/lazy-module.js';
import type { TelemetrySpec } from '../types.js';
import type { KindValidator, Path, ValidationContext } from './context.js';
import { checkOneSelectorKind, selectorFields } from './common.js';
import { checkIstioDocument } from './document.js';
import { anyDuration, bool, enumOf, list, map, num, obj, str } from './schema.js';
import { isPlainObject } from './walk.js';

export const CODE_BAD_CEL = 'SLU0130';

const METRICS = [
  'ALL_METRICS', 'REQUEST_COUNT', 'REQUEST_DURATION', 'REQUEST_SIZE', 'RESPONSE_SIZE', 'TCP_OPENED_CONNECTIONS',
  'TCP_CLOSED_CONNECTIONS', 'TCP_SENT_BYTES', 'TCP_RECEIVED_BYTES', 'GRPC_REQUEST_MESSAGES', 'GRPC_RESPONSE_MESSAGES',
];
const modeSchema = enumOf(['CLIENT_AND_SERVER', 'CLIENT', 'SERVER']);

/** Checks that a CEL expression parses; reports at `path`. */
function checkCel(expr: string, path: Path, ctx: ValidationContext, what: string): void {
  try {
    celModule().parse(expr);
  } catch (e) {
    const first = String((e as Error).message).split('\n')[0];
    ctx.error(path, `${what} ${JSON.stringify(expr)} is not a valid CEL expression: ${first}`, 'write a CEL expression over Envoy attributes, e.g. response.code >= 400 or request.headers[\'x-user\']', CODE_BAD_CEL);
  }
}

function checkProviders(providers: { name: string }[] | undefined, path: Path, ctx: ValidationContext): void {
  (providers ?? []).forEach((p, i) => {
    if (p.name === '') ctx.error([...path, i, 'name'], 'providers.name may not be empty', 'name a provider: prometheus, envoy, or one of meshConfig.extensionProviders');
  });
}

const providersSchema = list(obj({ name: str() }, { required: ['name'] }));

type Tracing = NonNullable<TelemetrySpec['tracing']>[number];
type Metrics = NonNullable<TelemetrySpec['metrics']>[number];
type AccessLogging = NonNullable<TelemetrySpec['accessLogging']>[number];

function checkTracing(t: Tracing, path: Path, ctx: ValidationContext): void {
  checkProviders(t.providers, [...path, 'providers'], ctx);
  if ((t.providers?.length ?? 0) > 1) ctx.warning([...path, 'providers'], 'multiple providers is not currently supported', 'list one tracing provider');
  const pct = t.randomSamplingPercentage;
  if (pct !== undefined && (pct < 0 || pct > 100)) ctx.error([...path, 'randomSamplingPercentage'], `randomSamplingPercentage must be in range [0.0, 100.0] (found ${pct})`);
  for (const [name, tag] of Object.entries(t.customTags ?? {})) {
    const p = [...path, 'customTags', name];
    if (name === '') ctx.error(p, 'tag name may not be empty');
    if (tag.literal !== undefined && tag.literal.value === '') ctx.error([...p, 'literal', 'value'], 'literal tag value may not be empty');
    if (tag.header !== undefined && tag.header.name === '') ctx.error([...p, 'header', 'name'], 'header tag name may not be empty');
    if (tag.environment !== undefined && tag.environment.name === '') ctx.error([...p, 'environment', 'name'], 'environment tag name may not be empty');
    if (tag.literal === undefined && tag.header === undefined && tag.environment === undefined) ctx.error(p, `tag '${name}' may not have a nil value`, 'set literal, environment or header');
  }
}

function checkMetrics(m: Metrics, path: Path, ctx: ValidationContext): void {
  checkProviders(m.providers, [...path, 'providers'], ctx);
  (m.overrides ?? []).forEach((o, i) => {
    const op = [...path, 'overrides', i];
    for (const [tag, to] of Object.entries(o.tagOverrides ?? {})) {
      const p = [...op, 'tagOverrides', tag];
      if (tag === '') ctx.warning(p, 'tagOverrides.name may not be empty');
      const operation = to.operation ?? 'UPSERT';
      if (operation === 'UPSERT') {
        if (to.value === undefined || to.value === '') ctx.error(p, `tagOverrides.value must be set when operation is UPSERT (tag ${tag})`, 'add value: <CEL expression>, e.g. request.host; or use operation: REMOVE');
        else checkCel(to.value, [...p, 'value'], ctx, 'tag value');
      } else if (to.value !== undefined && to.value !== '') {
        ctx.error([...p, 'value'], 'tagOverrides.value may only be set when operation is UPSERT', 'remove value, or use operation: UPSERT');
      }
    }
    if (o.match?.customMetric === '') ctx.error([...op, 'match', 'customMetric'], 'customMetric may not be empty');
  });
}

function checkAccessLogging(a: AccessLogging, path: Path, ctx: ValidationContext): void {
  checkProviders(a.providers, [...path, 'providers'], ctx);
  const expr = a.filter?.expression;
  if (expr !== undefined && expr !== '') checkCel(expr, [...path, 'filter', 'expression'], ctx, 'filter expression');
}

const telemetrySpecSchema = obj({
  ...selectorFields,
  tracing: list(
    obj(
      {
        match: obj({ mode: modeSchema }),
        providers: providersSchema,
        customTags: map(
          obj(
            {
              literal: obj({ value: str() }, { required: ['value'] }),
              environment: obj({ name: str(), defaultValue: str() }, { required: ['name'] }),
              header: obj({ name: str(), defaultValue: str() }, { required: ['name'] }),
            },
            { oneOf: [['literal', 'environment', 'header']] },
          ),
        ),
        disableSpanReporting: bool(),
        randomSamplingPercentage: num(),
        useRequestIdForTraceSampling: bool(),
        enableIstioTags: bool(),
      },
      { check: checkTracing },
    ),
  ),
  metrics: list(
    obj(
      {
        providers: providersSchema,
        overrides: list(
          obj({
            match: obj({ metric: enumOf(METRICS), customMetric: str(), mode: modeSchema }, { oneOf: [['metric', 'customMetric']] }),
            disabled: bool(),
            tagOverrides: map(obj({ operation: enumOf(['UPSERT', 'REMOVE']), value: str() })),
          }),
        ),
        reportingInterval: anyDuration(),
      },
      { check: checkMetrics },
    ),
  ),
  accessLogging: list(obj({ match: obj({ mode: modeSchema }), providers: providersSchema, disabled: bool(), filter: obj({ expression: str() }) }, { check: checkAccessLogging })),
});

export const validateTelemetry: KindValidator = (body, ctx) => {
  checkIstioDocument(body, telemetrySpecSchema, ctx, false);
  if (!isPlainObject(body.spec)) return;
  const spec = body.spec as TelemetrySpec;
  checkOneSelectorKind(spec, ['spec'], ctx);
  if (Array.isArray(spec.tracing) && spec.tracing.length > 1) ctx.warning(['spec', 'tracing'], 'multiple tracing is not currently supported', 'use one tracing entry');
};
