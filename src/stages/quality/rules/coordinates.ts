import { z } from 'zod';
import { defineRule, fail, OK } from '../rule.js';

export const latitudeRule = defineRule({
  name: 'latitude',
  description: 'Latitude in degrees, -90..90.',
  options: z.object({}).strict().default({}),
  create: () => (value) => (typeof value === 'number' && value >= -90 && value <= 90 ? OK : fail('quality.latitude_out_of_range', 'latitude outside -90..90')),
});

export const longitudeRule = defineRule({
  name: 'longitude',
  description: 'Longitude in degrees, -180..180.',
  options: z.object({}).strict().default({}),
  create: () => (value) =>
    typeof value === 'number' && value >= -180 && value <= 180 ? OK : fail('quality.longitude_out_of_range', 'longitude outside -180..180'),
});
