import { z } from 'zod';

/**
 * What a model call costs, in US dollars, from its usage. Prices are per million tokens; cache writes
 * and reads are priced off the base input price the way the API bills them (5-minute writes 1.25x,
 * 1-hour writes 2x, reads 0.1x) unless a price says otherwise.
 *
 * The defaults are Anthropic's published list prices for the models below at the time of writing.
 * Other models (and negotiated prices) come from configuration (`AGENT_MODEL_PRICES`); a call on a
 * model with no price has no cost (the conversation counts it as unpriced), rather than a guess.
 */
export const ModelPriceSchema = z.object({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cacheWrite5m: z.number().nonnegative().optional(),
  cacheWrite1h: z.number().nonnegative().optional(),
  cacheRead: z.number().nonnegative().optional(),
});
export type ModelPrice = z.infer<typeof ModelPriceSchema>;

/** Model id → price (`claude-sonnet-4-5` also prices its snapshots, `claude-sonnet-4-5-20250929`). */
export const PriceTableSchema = z.record(z.string().min(1), ModelPriceSchema);
export type PriceTable = z.infer<typeof PriceTableSchema>;

export const DEFAULT_PRICES: PriceTable = {
  'claude-opus-4-6': { input: 5, output: 25 },
  'claude-opus-4-5': { input: 5, output: 25 },
  'claude-opus-4-1': { input: 15, output: 75 },
  'claude-opus-4': { input: 15, output: 75 },
  'claude-sonnet-4-6': { input: 3, output: 15 },
  'claude-sonnet-4-5': { input: 3, output: 15 },
  'claude-sonnet-4': { input: 3, output: 15 },
  'claude-3-7-sonnet': { input: 3, output: 15 },
  'claude-haiku-4-5': { input: 1, output: 5 },
  'claude-3-5-haiku': { input: 0.8, output: 4 },
  'claude-3-haiku': { input: 0.25, output: 1.25 },
};

export interface BilledUsage {
  inputTokens: number;
  outputTokens: number;
  cacheRead: number;
  cacheWrite5m: number;
  cacheWrite1h: number;
}

/**
 * The price of `model`: its id, or the id it is a dated snapshot of. No looser matching: a newer
 * model of a family can be priced differently (Opus 4.5 costs a third of Opus 4.1).
 */
export function priceOf(model: string, table: PriceTable): ModelPrice | undefined {
  for (const id of [model, model.replace(/-\d{8}$/, '')]) if (Object.hasOwn(table, id)) return table[id];
  return undefined;
}

/** Dollars of one call, or undefined when the model has no price. */
export function costOf(model: string, usage: BilledUsage, table: PriceTable): number | undefined {
  const price = priceOf(model, table);
  if (!price) return undefined;
  const perToken = (perMillion: number) => perMillion / 1_000_000;
  const dollars =
    usage.inputTokens * perToken(price.input) +
    usage.outputTokens * perToken(price.output) +
    usage.cacheRead * perToken(price.cacheRead ?? price.input * 0.1) +
    usage.cacheWrite5m * perToken(price.cacheWrite5m ?? price.input * 1.25) +
    usage.cacheWrite1h * perToken(price.cacheWrite1h ?? price.input * 2);
  // Micro-dollar precision: sums over many calls stay exact enough and readable.
  return Math.round(dollars * 1e6) / 1e6;
}
