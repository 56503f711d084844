// Generates src/types/docker-api.gen.ts from the Engine API spec: TypeScript types for the request bodies berthd
// reads (and every definition they reach), and those bodies' JSON schemas for validation at the API edge.
// `--check` exits 1 when the checked-in file differs from what the spec gives (run by `npm run check`).
//
// The schemas check what dockerd's JSON decoding checks, and no more: JSON types (with Go's integer ranges), and
// the few enums dockerd refuses with a message of its own. The spec's minimum/maximum/other enums are left to the
// services, which answer with dockerd's messages (dockerd accepts MemorySwappiness -1, log drivers the spec does
// not list, …). Each schema node carries what a Go decoder would say about a value of the wrong type there.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// The spec lives in the shared reference folder beside the checkout (as CI clones it).
const specPath = process.env.BERTH_API_SPEC ?? join(root, '..', 'shared', 'reference', 'docker-engine-api-v1.45.yaml');
const outPath = join(root, 'src/types/docker-api.gen.ts');
const spec = parse(readFileSync(specPath, 'utf8'));
const defs = spec.definitions;

/** The request bodies berthd reads: export name, spec operation, and the Go type dockerd decodes it into. */
const bodies = [
  { name: 'ContainerCreateRequest', path: '/containers/create', struct: 'ContainerConfigWrapper', goType: 'runconfig.ContainerConfigWrapper' },
  { name: 'ContainerUpdateRequest', path: '/containers/{id}/update', struct: 'UpdateConfig', goType: 'container.UpdateConfig' },
  { name: 'ExecConfig', path: '/containers/{id}/exec', struct: 'ExecConfig', goType: 'types.ExecConfig' },
  { name: 'ExecStartConfig', path: '/exec/{id}/start', struct: 'ExecStartCheck', goType: 'types.ExecStartCheck' },
  { name: 'NetworkCreateRequest', path: '/networks/create', struct: 'NetworkCreateRequest', goType: 'types.NetworkCreateRequest' },
  { name: 'NetworkConnectRequest', path: '/networks/{id}/connect', struct: 'NetworkConnect', goType: 'types.NetworkConnect' },
  { name: 'VolumeCreateRequest', path: '/volumes/create', struct: 'VolumeCreateOptions', goType: 'volume.CreateOptions' },
  { name: 'NetworkDisconnectRequest', path: '/networks/{id}/disconnect', struct: 'NetworkDisconnect', goType: 'types.NetworkDisconnect' },
];

// ---- Where moby's Go types differ from what the spec says (keys are `Owner.Property`) ----

/** Go's name for a field's type, as its decoder prints it; otherwise derived from the JSON type and format. */
const goTypes = {
  'ContainerConfig.Cmd': 'string', // strslice.StrSlice: a string or a list; its errors name `string`
  'ContainerConfig.Entrypoint': 'string',
  'ContainerConfig.Shell': 'string',
  'ContainerConfig.ExposedPorts': 'nat.PortSet',
  'ContainerConfig.Volumes': 'map[string]struct {}',
  'ContainerConfig.StopTimeout': 'int',
  'HealthConfig.Interval': 'time.Duration',
  'HealthConfig.Timeout': 'time.Duration',
  'HealthConfig.StartPeriod': 'time.Duration',
  'HealthConfig.StartInterval': 'time.Duration',
  'Resources.CpuShares': 'int64',
  'Resources.BlkioWeight': 'uint16',
  'Resources.BlkioWeightDevice': '[]*blkiodev.WeightDevice',
  'Resources.BlkioDeviceReadBps': '[]*blkiodev.ThrottleDevice',
  'Resources.BlkioDeviceWriteBps': '[]*blkiodev.ThrottleDevice',
  'Resources.BlkioDeviceReadIOps': '[]*blkiodev.ThrottleDevice',
  'Resources.BlkioDeviceWriteIOps': '[]*blkiodev.ThrottleDevice',
  'Resources.Devices': '[]container.DeviceMapping',
  'Resources.DeviceRequests': '[]container.DeviceRequest',
  'Resources.Ulimits': '[]*units.Ulimit',
  'Resources.IOMaximumIOps': 'uint64',
  'Resources.IOMaximumBandwidth': 'uint64',
  'Resources.Ulimits.Soft': 'int64',
  'Resources.Ulimits.Hard': 'int64',
  'Resources.BlkioWeightDevice.Weight': 'uint16',
  'ThrottleDevice.Rate': 'uint64',
  'HostConfig.NetworkMode': 'container.NetworkMode',
  'HostConfig.IpcMode': 'container.IpcMode',
  'HostConfig.PidMode': 'container.PidMode',
  'HostConfig.UTSMode': 'container.UTSMode',
  'HostConfig.UsernsMode': 'container.UsernsMode',
  'HostConfig.CgroupnsMode': 'container.CgroupnsMode',
  'HostConfig.Cgroup': 'container.CgroupSpec',
  'HostConfig.Isolation': 'container.Isolation',
  'HostConfig.PortBindings': 'nat.PortMap',
  'HostConfig.Mounts': '[]mount.Mount',
  'HostConfig.ConsoleSize': '[2]uint',
  'HostConfig.OomScoreAdj': 'int',
  'HostConfig.ShmSize': 'int64',
  'Mount.Type': 'mount.Type',
  'Mount.Consistency': 'mount.Consistency',
  'Mount.BindOptions.Propagation': 'mount.Propagation',
  'Mount.TmpfsOptions.Mode': 'os.FileMode',
  'ExecConfig.ConsoleSize': '[2]uint',
  'ExecStartConfig.ConsoleSize': '[2]uint',
};
/** Go's struct type behind a definition or an inline object (unqualified, as the decoder names the struct). */
const goStructs = {
  ContainerConfig: 'container.Config',
  HostConfig: 'container.HostConfig',
  Resources: 'container.Resources',
  RestartPolicy: 'container.RestartPolicy',
  HealthConfig: 'container.HealthConfig',
  DeviceMapping: 'container.DeviceMapping',
  DeviceRequest: 'container.DeviceRequest',
  'HostConfig.LogConfig': 'container.LogConfig',
  'Resources.Ulimits': 'units.Ulimit',
  'Resources.BlkioWeightDevice': 'blkiodev.WeightDevice',
  ThrottleDevice: 'blkiodev.ThrottleDevice',
  Mount: 'mount.Mount',
  'Mount.BindOptions': 'mount.BindOptions',
  'Mount.VolumeOptions': 'mount.VolumeOptions',
  'Mount.VolumeOptions.DriverConfig': 'mount.Driver',
  'Mount.TmpfsOptions': 'mount.TmpfsOptions',
  NetworkingConfig: 'network.NetworkingConfig',
  EndpointSettings: 'network.EndpointSettings',
  EndpointIPAMConfig: 'network.EndpointIPAMConfig',
  PortBinding: 'nat.PortBinding',
};
/** Properties that take a string or a list of strings (moby's strslice.StrSlice), though the spec says list. */
const strSlices = new Set(['ContainerConfig.Cmd', 'ContainerConfig.Entrypoint', 'ContainerConfig.Shell']);
/** The enums refused at the edge, with dockerd's message (`%s` is the value). Others are the services' to check. */
const enumMessages = {
  // moby's wording since 25 (API 1.44), as the container service words it at create; 20.10 said "invalid restart
  // policy 'x'". Checked here, update refuses it too.
  'RestartPolicy.Name': "invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
  'HostConfig.CgroupnsMode': 'invalid cgroup namespace mode: %s',
  'Mount.Type': 'invalid mount config for type "%s": mount type unknown',
  MountType: 'invalid mount config for type "%s": mount type unknown', // the definition Mount.Type refers to
  'Mount.BindOptions.Propagation': 'invalid mount config for type "bind": invalid propagation mode: %s',
};
/** Enforced enums whose empty value dockerd takes as "the default", though the spec does not list it. */
const emptyIsDefault = new Set(['HostConfig.CgroupnsMode', 'Mount.BindOptions.Propagation']);
const enumOf = (s, key) => (emptyIsDefault.has(key) && !s.enum.includes('') ? ['', ...s.enum] : s.enum);
/** Go's integer ranges, so that 1e300 is refused as Go's decoder refuses it. */
const intRanges = {
  int: [-(2 ** 63), 2 ** 63 - 1],
  int64: [-(2 ** 63), 2 ** 63 - 1],
  'time.Duration': [-(2 ** 63), 2 ** 63 - 1],
  'os.FileMode': [0, 2 ** 32 - 1],
  uint: [0, 2 ** 64 - 1],
  uint16: [0, 2 ** 16 - 1],
  uint64: [0, 2 ** 64 - 1],
};

// ---- Spec walking ----

const refName = (s) => s.$ref?.replace('#/definitions/', '');
const deref = (s) => (s.$ref ? defs[refName(s)] : s);
/** The properties of an object schema, its allOf parts merged (each with the definition it comes from). */
function propsOf(schema, owner) {
  const out = [];
  for (const part of schema.allOf ?? []) {
    const o = refName(part) ?? owner;
    out.push(...propsOf(deref(part), o));
  }
  for (const [k, v] of Object.entries(schema.properties ?? {})) out.push({ name: k, schema: v, owner });
  return out;
}
/** A property's own schema, past a `allOf: [$ref]` wrapper (used for Mount.Type). */
const unwrap = (s) => (s.allOf?.length === 1 && !s.properties ? s.allOf[0] : s);

// ---- TypeScript types ----

const fixedLength = (s) => Number.isInteger(s.minItems) && s.minItems === s.maxItems && s.minItems <= 4;

const reached = new Set();
function tsType(schema, key, indent) {
  const s = unwrap(schema);
  if (s.$ref) {
    const n = refName(s);
    if (!reached.has(n)) {
      reached.add(n);
      pending.push(n);
    }
    return n;
  }
  if (strSlices.has(key)) return 'string[] | string';
  // Only the enums the validator enforces narrow the type; dockerd takes values the spec does not list elsewhere.
  if (s.enum && s.type === 'string' && enumMessages[key]) return enumOf(s, key).map((v) => JSON.stringify(v)).join(' | ');
  switch (s.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array': {
      const item = tsType(s.items ?? {}, key, indent);
      if (fixedLength(s)) return `[${Array(s.minItems).fill(item).join(', ')}]`;
      return /[ |]/.test(item) ? `Array<${item}>` : `${item}[]`;
    }
    case 'object':
    case undefined:
      if (s.properties || s.allOf) return objectLiteral(s, key, indent);
      if (s.additionalProperties && s.additionalProperties !== true) {
        const v = s.additionalProperties;
        // `{}` placeholders (ExposedPorts, Volumes): an empty object.
        if (v.enum?.length === 1 && typeof v.enum[0] === 'object') return 'Record<string, Record<string, never>>';
        return `Record<string, ${tsType(v, key, indent)}>`;
      }
      return 'Record<string, unknown>';
    default:
      return 'unknown';
  }
}
function members(schema, owner, indent) {
  const required = new Set(schema.required ?? []);
  return propsOf(schema, owner)
    .map(({ name, schema: p, owner: o }) => `${indent}${name}${required.has(name) ? '' : '?'}: ${tsType(p, `${o}.${name}`, indent + '  ')};`)
    .join('\n');
}
function objectLiteral(schema, key, indent) {
  return `{\n${members(schema, key, indent)}\n${indent.slice(2)}}`;
}
const pending = [];
const decls = [];
function declare(name, schema, owner) {
  const s = deref(schema);
  const bases = (s.allOf ?? []).filter((p) => p.$ref).map((p) => tsType(p, owner, '  '));
  const own = { ...s, allOf: (s.allOf ?? []).filter((p) => !p.$ref) };
  const body = members(own, owner, '  ');
  const title = s.title && s.title !== name ? ` (the spec's ${s.title})` : '';
  decls.push(`/** Engine API \`${owner}\`${title}. */\nexport interface ${name}${bases.length ? ` extends ${bases.join(', ')}` : ''} {\n${body}\n}`);
}
const bodySchemas = bodies.map((b) => ({ ...b, schema: spec.paths[b.path].post.parameters.find((p) => p.in === 'body').schema }));
for (const b of bodySchemas) declare(b.name, b.schema, refName(b.schema) ?? b.name);
while (pending.length) {
  const n = pending.shift();
  const d = defs[n];
  if (d.properties || d.allOf) declare(n, d, n);
  else decls.push(`/** Engine API \`${n}\`. */\nexport type ${n} = ${tsType(d, n, '  ')};`);
}

// ---- JSON schemas, inlined and annotated with Go's decoding context ----

/** The Go type a decoder names for a value at `key`, of JSON schema `s`. */
function goTypeOf(s, key) {
  if (goTypes[key]) return goTypes[key];
  const r = refName(unwrap(s));
  if (r) return goStructs[r] ?? (defs[r].type === 'string' ? 'string' : r);
  if (goStructs[key]) return goStructs[key];
  switch (s.type) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'integer':
      return s.format === 'int64' ? 'int64' : 'int';
    case 'array':
      return `[]${goTypeOf(s.items ?? {}, `${key}[]`)}`;
    default:
      if (s.additionalProperties && s.additionalProperties !== true) return `map[string]${goTypeOf(s.additionalProperties, `${key}{}`)}`;
      return 'interface {}';
  }
}
/** The element type a decoder names for a bad item of a list or map typed `t`. */
const elemOf = (t) => t.replace(/^\*?(\[\d*\]|map\[string\])\*?/, '');

/**
 * One schema node. `at` is what Go's decoder says of a value here ("Struct.Field.Path of type T"); `field` is the
 * path of JSON field names from the body (no list indices or map keys, as Go prints it), `struct` the innermost
 * Go struct holding it.
 */
function node(schema, key, ctx) {
  const s = unwrap(schema);
  const def = refName(s);
  const t = deref(s);
  const goType = ctx.goType ?? goTypeOf(schema, key);
  const at = ctx.field ? `${ctx.struct}.${ctx.field} of type ${goType}` : undefined;
  const out = {};
  const ownKey = def ?? key;
  if (strSlices.has(key)) {
    out.type = ['array', 'string'];
    out.items = { type: 'string', 'x-go': at };
    out['x-go'] = at;
    return out;
  }
  const jsonType = t.type ?? (t.properties || t.allOf || t.additionalProperties ? 'object' : undefined);
  if (jsonType) out.type = jsonType;
  if (at) out['x-go'] = at;
  else out['x-go-value'] = ctx.rootType;
  if (jsonType === 'integer') {
    const range = intRanges[goType] ?? intRanges.int64;
    out.minimum = range[0];
    out.maximum = range[1];
  }
  if (t.enum && enumMessages[key] && jsonType === 'string') {
    out.enum = enumOf(t, key);
    out['x-enum'] = enumMessages[key];
  }
  if (jsonType === 'array') {
    const item = t.items ?? {};
    // A Go array ([2]uint): typed as a tuple, so its length is checked (Go would pad or drop silently).
    if (fixedLength(t)) out.minItems = out.maxItems = t.minItems;
    out.items = node(item, key, { ...ctx, goType: elemOf(goType) });
  } else if (t.properties || t.allOf) {
    const struct = ctx.structName ?? (goStructs[ownKey] ?? ownKey).replace(/^\w+\./, '');
    out.properties = {};
    for (const p of propsOf(t, ownKey)) {
      const pk = `${p.owner}.${p.name}`;
      out.properties[p.name] = node(p.schema, pk, { rootType: ctx.rootType, struct, field: ctx.field ? `${ctx.field}.${p.name}` : p.name });
    }
  } else if (t.additionalProperties && t.additionalProperties !== true) {
    const v = t.additionalProperties;
    out.additionalProperties = v.enum?.length === 1 && typeof v.enum[0] === 'object'
      ? { type: 'object', 'x-go': `${ctx.struct}.${ctx.field} of type ${elemOf(goType)}` }
      : node(v, `${key}{}`, { ...ctx, goType: elemOf(goType) });
  }
  return out;
}
const schemas = {};
for (const b of bodySchemas) {
  // Fields of the body's own struct are named after it (moby embeds Config/Resources in its wrapper types).
  schemas[b.name] = node(b.schema, refName(b.schema) ?? b.name, { rootType: b.goType, structName: b.struct, goType: b.goType });
}

const header = `// GENERATED by scripts/gen-api-types.mjs from the Engine API spec v${spec.info.version}: do not edit; run \`npm run gen\`.
// Types of the request bodies berthd reads and of every definition they reach, and those bodies' JSON schemas.
// Bodies that passed validation (src/api/validate.ts) have no null-valued fields: Go's decoder treats null as
// absent, and so does the validator.
`;
const schemaBlock = `/** JSON schemas of the request bodies, for validation at the API edge (see scripts/gen-api-types.mjs). */
export const requestSchemas = ${JSON.stringify(schemas, null, 2)} as const;

/** The body type each schema validates. */
export interface RequestBodies {
${bodies.map((b) => `  ${b.name}: ${b.name};`).join('\n')}
}
`;
const text = `${header}\n${decls.join('\n\n')}\n\n${schemaBlock}`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(outPath, 'utf8');
  } catch {}
  if (current !== text) {
    console.error(`${outPath.replace(root + '/', '')} is out of date with the spec: run \`npm run gen\``);
    process.exit(1);
  }
  console.log('generated API types: up to date');
} else {
  writeFileSync(outPath, text);
  console.log(`wrote ${outPath.replace(root + '/', '')}`);
}
