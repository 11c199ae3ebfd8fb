import { describe, expect, it } from 'vitest';
import { customerBase } from '../../bench/customers.js';
import type { MatchModel } from '../contracts/topology-definition.js';
import { BLOCKING_RULES, candidatePairs } from './blocking.js';
import { CUSTOMER_COMPARISONS, compare, profileOf } from './comparisons.js';
import { scorePair } from './model.js';
import { estimateU, trainModel } from './train.js';

const levelsOf = (a: Parameters<typeof profileOf>[0], b: Parameters<typeof profileOf>[0]) => {
  const vector = compare(profileOf(a), profileOf(b));
  return Object.fromEntries(CUSTOMER_COMPARISONS.map((c, i) => [c.name, vector[i] === null ? null : c.levels[vector[i]!]]));
};

describe('field comparisons', () => {
  it('grade each field from exact to else, and say nothing where a side lacks it', () => {
    expect(
      levelsOf(
        {
          firstName: 'Anne',
          lastName: 'Lefèvre',
          email: 'Anne.Lefevre+shop@googlemail.com',
          phone: '+33 6 12 34 56 78',
          birthDate: '1980-03-07',
          postalCode: '75011',
        },
        { firstName: 'Annie', lastName: 'Lefevre', email: 'annelefevre@gmail.com', phone: '06 12 34 56 78', birthDate: '1980-07-03', postalCode: '75012' },
      ),
    ).toEqual({
      first_name: 'jaro_winkler_0.92',
      last_name: 'exact',
      email: 'exact',
      phone: 'same_last_9_digits',
      birth_date: 'day_month_transposed',
      postal_code: 'same_district',
      address: null,
      loyalty_id: null,
      device_id: null,
    });
  });

  it('meet a record whose first and last names were swapped', () => {
    const levels = levelsOf({ firstName: 'Martin', lastName: 'Thomas' }, { firstName: 'Thomas', lastName: 'Martin' });
    expect([levels.first_name, levels.last_name]).toEqual(['exact', 'exact']);
  });

  it('grade birth dates one part off, and names that only sound alike', () => {
    expect(levelsOf({ birthDate: '1980-03-07' }, { birthDate: '1981-03-07' }).birth_date).toBe('one_part_off');
    expect(levelsOf({ birthDate: '1980-03-07' }, { birthDate: '1975-11-20' }).birth_date).toBe('else');
    expect(levelsOf({ lastName: 'Knight' }, { lastName: 'Nite' }).last_name).toBe('same_sound');
  });
});

describe('blocking', () => {
  it('puts a phone written nationally under the key of its E.164 form, and another number under another', () => {
    const key = (phone: string) => BLOCKING_RULES.phone.key(profileOf({ phone }));
    expect(key('06 12 34 56 78')).toBe(key('+33 6 12 34 56 78'));
    expect(key('(086) 123-4567')).toBe(key('+353861234567'));
    expect(key('+353861234568')).not.toBe(key('+353861234567'));
    const { all } = candidatePairs(
      [profileOf({ lastName: 'Ng', phone: '0861234567' }), profileOf({ lastName: 'Ng', phone: '+353 86 123 4567' })],
      BLOCKING_RULES,
      10,
    );
    expect(all).toEqual([[1, 0]]);
  });
});

describe('Fellegi–Sunter scoring', () => {
  // Round parameters, so that the weights are whole numbers of bits.
  const model: MatchModel = {
    prior: 0.5,
    comparisons: {
      first_name: { m: [0.8, 0.1, 0.05, 0.01, 0.04], u: [0.05, 0.1, 0.1, 0.05, 0.7] },
      last_name: { m: [0.9, 0.04, 0.03, 0.01, 0.02], u: [0.9 / 32, 0.1, 0.1, 0.1, 0.671875], randomExact: 0.01 },
      email: { m: [0.5, 0.2, 0.2, 0.1], u: [0.5 / 1024, 0.1, 0.1 - 0.5 / 1024, 0.8] },
    },
  };

  it('adds log2(m/u) of each level to the prior log-odds (4 + 5 - 3 = 6 bits: probability 64/65)', () => {
    const score = scorePair(
      profileOf({ firstName: 'Ann', lastName: 'Lee', email: 'ann@example.com' }),
      profileOf({ firstName: 'Ann', lastName: 'Lee', email: 'zoe.martin@example.org' }),
      model,
    );
    expect(score.levels).toMatchObject({ first_name: 'exact', last_name: 'exact', email: 'else', phone: null });
    expect(score.weight).toBeCloseTo(6, 10);
    expect(score.probability).toBeCloseTo(64 / 65, 12);
  });

  it('weighs an exact agreement on a rare value more and on a common one less (term frequency)', () => {
    const a = profileOf({ firstName: 'Ann', lastName: 'Lee' });
    const plain = scorePair(a, a, model).weight;
    expect(plain).toBeCloseTo(4 + 5, 10);
    // "lee" held by a quarter of the average agreeing value's share (randomExact 0.01): +2 bits; four times as common: -2 bits.
    const rare = scorePair(a, a, model, (field, value) => (field === 'last_name' && value === 'lee' ? 0.0025 : undefined)).weight;
    const common = scorePair(a, a, model, (field, value) => (field === 'last_name' && value === 'lee' ? 0.04 : undefined)).weight;
    expect(rare - plain).toBeCloseTo(2, 10);
    expect(common - plain).toBeCloseTo(-2, 10);
  });
});

describe('training without labels', () => {
  it('estimates u from random pairs with add-one smoothing', () => {
    const u = estimateU(
      [
        [0, null],
        [4, 1],
        [4, 1],
      ],
      CUSTOMER_COMPARISONS.slice(0, 2),
    );
    expect(u[0]).toEqual([2 / 8, 1 / 8, 1 / 8, 1 / 8, 3 / 8]);
    expect(u[1]).toEqual([1 / 7, 3 / 7, 1 / 7, 1 / 7, 1 / 7]);
  });
});

describe('a model trained without labels on a labelled customer base (bench/customers.ts, 6,000 records)', () => {
  const records = customerBase({ records: 6_000, seed: 7 });
  const profiles = records.map(profileOf);
  // As `c360 matching train` and bench:matching train: the stage's blocking keys, the training rules, random pairs.
  const model = trainModel(profiles, { randomPairs: 20_000 });
  const random = Array.from({ length: 20_000 }, (_, k) => compare(profiles[(k * 7919) % profiles.length]!, profiles[(k * 104_729 + 13) % profiles.length]!));
  const probability = (a: Parameters<typeof profileOf>[0], b: Parameters<typeof profileOf>[0]) => scorePair(profileOf(a), profileOf(b), model).probability;
  const ann = {
    firstName: 'Anne',
    lastName: 'Garnier',
    email: 'anne.garnier@free.fr',
    phone: '+33612345678',
    birthDate: '1971-04-12',
    postalCode: '75011',
    address: '12 rue Oberkampf',
  };

  it('a family at one address, sharing a surname and a landline, is not a duplicate', () => {
    const home = { lastName: 'Garnier', postalCode: '75011', address: '12 rue Oberkampf', phone: '+33143556677' };
    expect(
      probability(
        { ...home, firstName: 'Anne', email: 'anne.garnier@free.fr', birthDate: '1971-04-12' },
        { ...home, firstName: 'Lucas', email: 'lucas.garnier@gmail.com', birthDate: '2003-09-30' },
      ),
    ).toBeLessThan(0.5);
  });

  it('the same person, moved house with a new email, is one', () => {
    expect(probability(ann, { ...ann, email: 'agarnier58@orange.fr', postalCode: '75019', address: '40 quai de Valmy' })).toBeGreaterThanOrEqual(0.5);
  });

  it('takes u from the candidates: agreeing on an address is common among different people blocked together (households)', () => {
    const address = CUSTOMER_COMPARISONS.findIndex((c) => c.name === 'address');
    const randomU = estimateU(random)[address]![0]!;
    expect(model.comparisons.address!.u[0]!).toBeGreaterThan(10 * randomU);
    // Yet exact agreement on a birth date still says one person far more often than not.
    expect(model.comparisons.birth_date!.m[0]! / model.comparisons.birth_date!.u[0]!).toBeGreaterThan(10);
  });
});
