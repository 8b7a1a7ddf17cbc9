// Parser for the Prometheus text exposition format (0.0.4, tolerant of OpenMetrics `# EOF`).
// Used to lint our own `/metrics` and to read engines' `/metrics`; it never fetches anything.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type?: string;
  help?: string;
  samples: Sample[];
}

export interface ParsedExposition {
  families: Map<string, Family>;
  errors: string[];
}

const SUFFIXES: Readonly<Record<string, readonly string[]>> = {
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['_sum', '_count', '_created'],
  counter: ['_total', '_created'],
};

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parsePromText(text: string): ParsedExposition {
  const families = new Map<string, Family>();
  const errors: string[] = [];
  const familyOf = (name: string): Family => {
    let family = families.get(name);
    if (!family) {
      family = { name, samples: [] };
      families.set(name, family);
    }
    return family;
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      readComment(line, familyOf);
      continue;
    }
    const sample = parseSampleLine(line);
    if (typeof sample === 'string') {
      errors.push(`line ${i + 1}: ${sample}`);
      continue;
    }
    familyOf(familyNameOf(sample.name, families)).samples.push(sample);
  }
  return { families, errors };
}

function readComment(line: string, familyOf: (name: string) => Family): void {
  const m = /^#\s+(HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s?(.*)$/.exec(line);
  if (!m) return; // plain comment or `# EOF`
  const [, kind, name = '', rest = ''] = m;
  if (kind === 'HELP') familyOf(name).help = unescapeHelp(rest);
  else familyOf(name).type = rest.trim();
}

/** A sample belongs to a declared family when its name is the family name plus a type suffix. */
function familyNameOf(sampleName: string, families: Map<string, Family>): string {
  if (families.get(sampleName)?.type !== undefined) return sampleName;
  for (const [type, suffixes] of Object.entries(SUFFIXES)) {
    for (const suffix of suffixes) {
      if (!sampleName.endsWith(suffix)) continue;
      const base = sampleName.slice(0, -suffix.length);
      if (families.get(base)?.type === type) return base;
    }
  }
  return sampleName;
}

/** Returns the sample, or a description of what is wrong with the line. */
export function parseSampleLine(line: string): Sample | string {
  const nameMatch = NAME_RE.exec(line);
  if (!nameMatch) return 'sample does not start with a metric name';
  const name = nameMatch[0];
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    const end = readLabels(line, pos + 1, labels);
    if (typeof end === 'string') return end;
    pos = end;
  }
  const fields = line.slice(pos).trim().split(/\s+/);
  const value = parseValue(fields[0] ?? '');
  if (value === undefined) return `bad value in ${JSON.stringify(line)}`;
  return { name, labels, value };
}

/** Reads `a="x",b="y"}` starting after `{`; returns the index after `}`. */
function readLabels(line: string, start: number, into: Record<string, string>): number | string {
  let pos = start;
  for (;;) {
    while (line[pos] === ' ' || line[pos] === ',') pos++;
    if (line[pos] === '}') return pos + 1;
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(pos));
    if (!m) return `bad label name at column ${pos + 1}`;
    pos += m[0].length;
    while (line[pos] === ' ') pos++;
    if (line[pos] !== '=' || line[pos + 1] !== '"') return `expected ="..." after label ${m[0]}`;
    pos += 2;
    let value = '';
    for (;;) {
      const ch = line[pos];
      if (ch === undefined) return 'unterminated label value';
      pos++;
      if (ch === '"') break;
      if (ch === '\\') {
        const next = line[pos++];
        value += next === 'n' ? '\n' : (next ?? '');
      } else {
        value += ch;
      }
    }
    into[m[0]] = value;
  }
}

/** Float syntax as Prometheus reads it (Go ParseFloat: NaN/Inf in any case; prom-client writes `Nan`). */
function parseValue(raw: string): number | undefined {
  const lower = raw.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === '+inf' || lower === 'inf' || lower === '+infinity' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (raw === '' || !/^[-+0-9.eE]+$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isNaN(n) ? undefined : n;
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** The value of the one sample named `name` whose labels include `match`, or undefined. */
export function sampleValue(parsed: ParsedExposition, name: string, match: Record<string, string> = {}): number | undefined {
  for (const family of parsed.families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(match).every(([k, v]) => sample.labels[k] === v)) return sample.value;
    }
  }
  return undefined;
}
