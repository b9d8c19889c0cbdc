import { readFileSync, readdirSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import schema from '../../schema/image-builder.schema.json' with { type: 'json' };
import {
  DEFAULT_DISCOVERY,
  DEFAULT_REPOSITORY_TEMPLATE,
  DEFAULT_SHA_SHORT_LENGTH,
  DEFAULT_TAGS,
  DEFAULT_TEST_TIMEOUT_SECONDS,
  defaultConfig,
} from '../../src/config/defaults.js';
import { SCHEMA_MESSAGE_KEYWORDS, parseConfig } from '../../src/config/parse-config.js';

const FIXTURES = new URL('../fixtures/configs/', import.meta.url);
const fixtures = readdirSync(FIXTURES).filter((name) => /\.ya?ml$/.test(name));

type SchemaObject = Record<string, unknown>;

function strictAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  for (const keyword of SCHEMA_MESSAGE_KEYWORDS) ajv.addKeyword({ keyword, schemaType: 'string' });
  return ajv;
}

/** Every subschema, with a readable location. */
function subschemas(node: unknown, at = '#'): [string, SchemaObject][] {
  if (node === null || typeof node !== 'object') return [];
  if (Array.isArray(node)) return node.flatMap((item, index) => subschemas(item, `${at}/${index}`));
  const object = node as SchemaObject;
  const found: [string, SchemaObject][] = [[at, object]];
  for (const [key, value] of Object.entries(object)) {
    if (key === 'enum' || key === 'examples' || key === 'default' || key === 'required') continue;
    found.push(...subschemas(value, `${at}/${key}`));
  }
  return found;
}

describe('schema/image-builder.schema.json', () => {
  test('is a valid draft 2020-12 schema that compiles in ajv strict mode', () => {
    const ajv = strictAjv();
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(ajv.validateSchema(schema)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
  });

  test('every property has a title and a description for editors', () => {
    const missing: string[] = [];
    for (const [at, node] of subschemas(schema)) {
      const properties = node.properties as Record<string, SchemaObject | boolean> | undefined;
      if (!properties || node.required) continue; // `required` branches only name keys
      for (const [name, property] of Object.entries(properties)) {
        if (typeof property !== 'object' || !property.title || !property.description) {
          missing.push(`${at}/properties/${name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  test('every mapping refuses unknown keys', () => {
    const open = subschemas(schema)
      .filter(([, node]) => node.properties && !node.required)
      .filter(([, node]) => node.additionalProperties !== false)
      .map(([at]) => at);
    expect(open).toEqual([]);
  });

  test('every constrained string says what it expects', () => {
    const silent = subschemas(schema)
      .filter(([, node]) => typeof node.pattern === 'string' && !node.patternErrorMessage)
      .map(([at]) => at);
    expect(silent).toEqual([]);
  });

  test('image names follow the OCI path-component grammar', () => {
    expect(schema.$defs.imageName.pattern).toBe('^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*$');
  });

  test('the defaults it shows editors are the ones the code applies', () => {
    const properties = schema.properties;
    expect(properties.tags.default).toEqual(DEFAULT_TAGS);
    expect(properties.repository.default).toBe(DEFAULT_REPOSITORY_TEMPLATE);
    expect(properties['sha-short-length'].default).toBe(DEFAULT_SHA_SHORT_LENGTH);
    expect(properties.builder.default).toBe(defaultConfig().builder);
    expect(schema.$defs.test.properties.timeout.default).toBe(DEFAULT_TEST_TIMEOUT_SECONDS);
  });

  test('the default conventions are valid discovery entries', () => {
    const validate = strictAjv().compile(schema);
    const discovery = DEFAULT_DISCOVERY.map(({ pattern, kind }) => ({ pattern, kind }));
    expect(validate({ discovery })).toBe(true);
  });

  test('there are fixtures to check', () => {
    expect(fixtures).toEqual(
      expect.arrayContaining(['full.yml', 'seed-000-os-infra.yml', 'seed-004-foreman.yml']),
    );
  });

  test.each(fixtures)('fixture %s validates and parses', (name) => {
    const text = readFileSync(new URL(name, FIXTURES), 'utf8');
    const validate = strictAjv().compile(schema);
    const data: unknown = parse(text, { merge: true }) ?? {};
    expect(validate(data) ? [] : validate.errors).toEqual([]);
    expect(() => parseConfig(text, name)).not.toThrow();
  });
});
