import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineTool } from './define-tool';

const CONDITIONS = [
  'sunny',
  'partly cloudy',
  'cloudy',
  'light rain',
  'rain',
  'thunderstorms',
  'fog',
  'snow',
] as const;

/**
 * The `get_weather` tool: a read tool with fake but deterministic weather, derived from a hash of the
 * location (this worker has no network, and tests need stable answers). The same location (any case,
 * surrounding spaces ignored) always gets the same weather.
 */
export const getWeather = defineTool({
  name: 'get_weather',
  description: 'Get the current weather for a location.',
  input: z.object({
    location: z.string().min(1).describe('City name, e.g. Paris'),
    unit: z.enum(['celsius', 'fahrenheit']).default('celsius').describe('Temperature unit (default celsius)'),
  }),
  effect: 'read',
  async run({ location, unit }, ctx) {
    ctx.signal.throwIfAborted();
    const digest = createHash('sha256').update(location.trim().toLowerCase(), 'utf8').digest();
    // -10.0 … 35.0 °C. Work in whole tenths and divide last, so 12.3 is 12.3, not 12.300000000000001.
    const tenthsC = (digest.readUInt16BE(0) % 451) - 100;
    const tenths = unit === 'celsius' ? tenthsC : Math.round((tenthsC * 9) / 5 + 320);
    const temperature = tenths / 10;
    const conditions = CONDITIONS[digest[2] % CONDITIONS.length];
    return { location, temperature, unit, conditions };
  },
});
