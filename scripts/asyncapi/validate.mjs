// Parse an AsyncAPI document with the AsyncAPI project's own parser (@asyncapi/parser, pinned in
// package.json) and exit non-zero on any diagnostic of severity error. Warnings, information and
// hints are printed but do not fail: they are advice, not contract errors.
//
// With fixture directories as further arguments, every event of every `*.expected.json` there
// (what the normalizer emits for a saved vendor payload) is also checked against the document
// as a consumer would read it: the event's type has a channel on each broker, the structured
// message's payload schema accepts the event, the binary message's payload schema accepts its
// `data`, and the Kafka binary message's header schema accepts its `ce_*` headers. This catches a
// payload translation or a per-type constraint that contradicts what the bridge really sends.
//
//   node scripts/asyncapi/validate.mjs docs/asyncapi.yaml [tests/fixtures ...]
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser, DiagnosticSeverity } from '@asyncapi/parser';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const [path, ...fixtureDirs] = process.argv.slice(2);
if (!path) {
  console.error('usage: node validate.mjs <asyncapi.yaml> [fixture-dir ...]');
  process.exit(2);
}
const source = await readFile(path, 'utf8');
const { document, diagnostics } = await new Parser().parse(source, { source: path });

const names = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};
let errors = 0;
for (const d of diagnostics) {
  if (d.severity === DiagnosticSeverity.Error) errors += 1;
  const where = d.path && d.path.length ? d.path.join('.') : '(document)';
  const line = d.range ? `:${d.range.start.line + 1}` : '';
  console.log(`${names[d.severity] ?? d.severity} ${d.code} ${path}${line} ${where}: ${d.message}`);
}
if (errors > 0 || !document) {
  console.error(`${path}: ${errors} error(s); the document is not valid AsyncAPI`);
  process.exit(1);
}
console.log(
  `${path}: valid AsyncAPI ${document.version()} (${document.channels().length} channels, ` +
    `${document.operations().length} operations, ${document.messages().length} messages; ` +
    `${diagnostics.length} diagnostic(s), none an error)`,
);

if (fixtureDirs.length === 0) process.exit(0);

// The parser annotates schemas with x-parser-* members; a multi-format payload keeps its
// {schemaFormat, schema} wrapper.
function plain(schema) {
  if (Array.isArray(schema)) return schema.map(plain);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (!k.startsWith('x-parser-')) out[k] = plain(v);
  }
  return out;
}
function schemaOf(model) {
  const json = plain(model.json());
  return json.schemaFormat !== undefined && json.schema !== undefined ? json.schema : json;
}
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new Map();
function validator(key, model) {
  if (!compiled.has(key)) compiled.set(key, ajv.compile(schemaOf(model)));
  return compiled.get(key);
}

async function* expectedFiles(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* expectedFiles(p);
    else if (entry.name.endsWith('.expected.json')) yield p;
  }
}

let events = 0;
const failures = [];
for (const dir of fixtureDirs) {
  for await (const file of expectedFiles(dir)) {
    const parsed = JSON.parse(await readFile(file, 'utf8'));
    for (const event of Array.isArray(parsed) ? parsed : [parsed]) {
      // An input the normalizer rejects expects `{"error": …}`, not an event.
      if (typeof event.type !== 'string') continue;
      events += 1;
      for (const broker of ['kafka', 'nats']) {
        const id = `${broker}-${event.type.replaceAll('.', '-')}`;
        const channel = document.channels().get(id);
        if (!channel) {
          failures.push(`${file}: no channel ${id} for type ${event.type}`);
          continue;
        }
        const checks = [];
        for (const message of channel.messages()) {
          const key = `${id}/${message.id()}`;
          if (message.id() === 'structured') checks.push([key, message.payload(), event]);
          if (message.id() === 'binary') {
            checks.push([key, message.payload(), event.data]);
            if (broker === 'kafka') {
              const headers = { 'content-type': message.contentType() };
              for (const [k, v] of Object.entries(event)) {
                if (k !== 'data' && k !== 'datacontenttype') headers[`ce_${k}`] = v;
              }
              checks.push([`${key}/headers`, message.headers(), headers]);
            }
          }
        }
        for (const [key, model, value] of checks) {
          const validate = validator(key, model);
          if (!validate(value)) {
            failures.push(`${file}: ${key}: ${ajv.errorsText(validate.errors)}`);
          }
        }
      }
    }
  }
}
for (const f of failures) console.error(`FAIL ${f}`);
if (events === 0) {
  console.error(`no *.expected.json events under ${fixtureDirs.join(', ')}`);
  process.exit(1);
}
console.log(`${events} fixture events checked against their channels' messages: ${failures.length} failure(s)`);
process.exit(failures.length ? 1 : 0);
