import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ROW_TYPE, fieldsUsed, renderList, renderObjects, resolveListFormat, templateText } from '../../src/cli/format/formatter.js';
import { GoFloat, formatFloat, goJSON, sprint, sprintf } from '../../src/cli/format/gofmt.js';
import { TabWriter, stringWidth, tabulate } from '../../src/cli/format/tabwriter.js';
import { TemplateError, parseTemplate } from '../../src/cli/format/template.js';
import { bytesSize, humanDuration, humanSize, humanSize4, parseBytes, parseHumanSize, timeAgo } from '../../src/cli/format/units.js';

type Result = string | { error: string; partial?: string };

/** Runs a template; returns its output, or the error (message and partial output) it raised. */
function run(tmpl: string, data: unknown, name = ''): Result {
  let t;
  try {
    t = parseTemplate(tmpl, { name });
  } catch (e) {
    assert.ok(e instanceof TemplateError, String(e));
    assert.equal(e.kind, 'parse');
    return { error: e.message };
  }
  try {
    return t.execute(data);
  } catch (e) {
    assert.ok(e instanceof TemplateError, String(e));
    assert.equal(e.kind, 'exec');
    return e.partial ? { error: e.message, partial: e.partial } : { error: e.message };
  }
}

const data = {
  Name: 'web',
  Size: 4261228,
  Ratio: 1.5,
  Names: ['a', 'b', 'c'],
  Nums: [1, 2, 3],
  Empty: [],
  Flag: true,
  Off: false,
  Nil: null,
  Labels: { 'com.x': 'one', b: 'two', a: 'three' },
  Nested: { Inner: { Deep: 'x', Arr: [{ K: 1 }, { K: 2 }] } },
  Mixed: [1, 'a', true, null, { z: 1, a: 2 }],
};

// Expected results produced by Go's text/template (with docker's template functions) on the same data.
const goCases: [string, string, Result][] = [
  ["", "{{.Name}}", "web"],
  ["", "{{.Nested.Inner.Deep}}", "x"],
  ["", "{{.Labels.b}}", "two"],
  ["", "{{.Missing}}", "<no value>"],
  ["", "{{.Missing.Deeper}}", "<no value>"],
  ["", "{{.Nil}}", "<no value>"],
  ["", "{{.Names}} {{.Labels}} {{.Mixed}} {{.Empty}}", "[a b c] map[a:three b:two com.x:one] [1 a true <nil> map[a:2 z:1]] []"],
  ["", "{{.Size}} {{.Ratio}} {{1e6}} {{1234567.0}} {{0.00001}} {{-0.0}} {{1.5e300}}", "4261228 1.5 1e+06 1.234567e+06 1e-05 -0 1.5e+300"],
  ["", "{{.Name | upper}}|{{.Name | printf \"%s:%s\" \"pre\"}}|{{join .Names \", \"}}|{{index .Labels \"com.x\"}}|{{index .Names 1}}|{{index .Nested \"Inner\" \"Deep\"}}|{{index \"abc\" 0}}", "WEB|pre:web|a, b, c|one|b|x|97"],
  ["", "{{\"lit\"}} {{`raw\\n`}} {{1}} {{-2}} {{1.5}} {{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}} {{'a'}} {{true}} {{nil | print}}", { error: "template parsing error: template: :1:108: executing \"\" at <nil>: nil is not a command", partial: "lit raw\\n 1 -2 1.5 31 15 15 5 1000 97 true " }],
  ["", "{{if .Off}}1{{else if .Flag}}2{{else}}3{{end}}|{{if .Empty}}a{{else}}b{{end}}|{{if .Missing}}a{{else}}b{{end}}|{{if .Labels}}m{{end}}", "2|b|b|m"],
  ["", "{{range .Names}}[{{.}}]{{end}}|{{range $i, $v := .Names}}{{$i}}={{$v}};{{end}}|{{range .Empty}}x{{else}}none{{end}}|{{range $k, $v := .Labels}}{{$k}}:{{$v}} {{end}}", "[a][b][c]|0=a;1=b;2=c;|none|a:three b:two com.x:one "],
  ["", "{{range .Nums}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}|{{range .Nums}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}}|{{range $i, $e := .Nested.Inner.Arr}}{{$i}}{{$e.K}}{{$.Name}}{{end}}", "13|1|01web12web"],
  ["", "{{with .Nested.Inner}}{{.Deep}}{{end}}|{{with .Missing}}x{{else}}y{{end}}|{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}|{{ $y := \"a\" }}{{ if true }}{{ $y = \"b\" }}{{ end }}{{ $y }}", "x|y|12|b"],
  ["", "a  {{- .Name -}}  b|{{/* comment */}}|{{- 3}}|{{3 -}} x|{{-3}}|{{ 3 }}", "awebb||3|3x|-3|3"],
  ["", "{{eq .Name \"web\"}} {{ne .Name \"web\"}} {{eq 1 2 3 1}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}} {{eq .Missing .Nil}}", "true false true true true true false true"],
  ["", "{{and 1 0 2}} {{or 0 \"\" \"x\"}} {{and 1 2}} {{or 0 \"\"}} {{not 0}} {{not .Name}}", "0 x 2  true false"],
  ["", "{{len .Names}} {{len .Labels}} {{len \"héllo\"}} {{len \"\"}}", "3 3 6 0"],
  ["", "{{printf \"%s-%d-%v-%q-%t-%x\" .Name 42 .Names .Name true 255}}", "web-42-[a b c]-\"web\"-true-ff"],
  ["", "{{printf \"%-10s|%10s|%5d|%-5d|%05d\" \"ab\" \"cd\" 42 42 -42}}", "ab        |        cd|   42|42   |-0042"],
  ["", "{{printf \"%.2f %8.3f %e %g %.3g %v\" 3.14159 2.5 123456.789 0.00001234 1234.5678 1e20}}", "3.14    2.500 1.234568e+05 1.234e-05 1.23e+03 1e+20"],
  ["", "{{printf \"%d\" \"x\"}} {{printf \"%s\" 5}} {{printf \"%d\"}} {{printf \"%d\" 1 2}} {{printf \"%z\" 1}}", "%!d(string=x) %!s(int=5) %!d(MISSING) 1%!(EXTRA int=2) %!z(int=1)"],
  ["", "{{printf \"%v\" .Labels}} {{printf \"%q\" .Names}} {{printf \"%5.1s|\" \"abc\"}} {{printf \"%T %T %T %T %T\" 1 1.5 \"s\" .Names .Labels}} {{printf \"%x\" \"hi\"}} {{printf \"%c%U\" 65 0x1F600}}", "map[a:three b:two com.x:one] [\"a\" \"b\" \"c\"]     a| int float64 string []interface {} map[string]interface {} 6869 AU+1F600"],
  ["", "{{print 1 2 \"a\" \"b\" 3}}|{{println 1 \"a\"}}|{{html \"<a>&\"}}|{{js \"it's\"}}|{{urlquery \"a b&c\"}}", "1 2ab3|1 a\n|&lt;a&gt;&amp;|it\\'s|a+b%26c"],
  ["", "{{json .Names}} {{json .Nil}} {{json .Missing}} {{json 1.5}} {{json \"<&>\"}} {{json \"a\\u2028\\t\\u0001\"}}", "[\"a\",\"b\",\"c\"] null null 1.5 \"<&>\" \"a\\u2028\\t\\u0001\""],
  ["", "{{split \"a,b,c\" \",\"}} {{split \"abc\" \"\"}} {{len (split \"\" \",\")}} {{title \"hello world-foo_bar\"}} {{upper \"héllo\"}} {{lower \"HÉLLO\"}}", "[a b c] [a b c] 1 Hello World-Foo_bar HÉLLO héllo"],
  ["", "{{truncate \"abcdef\" 3}}|{{truncate \"ab\" 3}}|{{pad \"x\" 2 3}}|{{pad \"\" 2 3}}|{{slice \"abcdef\" 1 3}}|{{slice .Names 1}}", "abc|ab|  x   ||bc|[b c]"],
  ["", "{{(.Nested).Inner.Deep}} {{(index .Nested.Inner.Arr 1).K}} {{.Names | len}}", "x 2 3"],
  ["", "{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" .Name}}{{template \"T\" 5}}|{{block \"B\" .Name}}<{{.}}>{{end}}", "[web][5]|<web>"],
  ["", "{{.Name", { error: "template parsing error: template: :1: unclosed action" }],
  ["", "{{.Name}", { error: "template parsing error: template: :1: bad character U+007D '}'" }],
  ["", "{{if .Flag}}x", { error: "template parsing error: template: :1: unexpected EOF" }],
  ["", "{{end}}", { error: "template parsing error: template: :1: unexpected {{end}}" }],
  ["", "{{else}}", { error: "template parsing error: template: :1: unexpected {{else}}" }],
  ["", "{{nofunc 1}}", { error: "template parsing error: template: :1: function \"nofunc\" not defined" }],
  ["", "{{$undefined}}", { error: "template parsing error: template: :1: undefined variable \"$undefined\"" }],
  ["", "{{if}}{{end}}", { error: "template parsing error: template: :1: missing value for if" }],
  ["", "{{(.Name}}", { error: "template parsing error: template: :1: unclosed left paren" }],
  ["", "{{\"unterminated}}", { error: "template parsing error: template: :1: unterminated quoted string" }],
  ["", "{{/* unclosed", { error: "template parsing error: template: :1: unclosed comment" }],
  ["", "{{/* c */ x}}", { error: "template parsing error: template: :1: comment ends before closing delimiter" }],
  ["", "{{break}}", { error: "template parsing error: template: :1: {{break}} outside {{range}}" }],
  ["", "{{1a}}", { error: "template parsing error: template: :1: bad number syntax: \"1a\"" }],
  ["", "{{.Name#}}", { error: "template parsing error: template: :1: bad character U+0023 '#'" }],
  ["", "{{3 | 4}}", { error: "template parsing error: template: :1: non executable command in pipeline stage 2" }],
  ["", "{{.Name | }}", "web"],
  ["", "{{range $a, $b, $c := .Names}}{{end}}", { error: "template parsing error: template: :1: too many declarations in range" }],
  ["", "{{.Name 1}}", { error: "template parsing error: template: :1:2: executing \"\" at <.Name>: Name is not a method but has arguments" }],
  ["", "{{nil}}", { error: "template parsing error: template: :1:2: executing \"\" at <nil>: nil is not a command" }],
  ["", "{{3.x}}", { error: "template parsing error: template: :1: bad number syntax: \"3.x\"" }],
  ["", "x\n{{if .Flag}}\n{{.Name\n}}", { error: "template parsing error: template: :4: unexpected EOF" }],
  ["", "{{99999999999999999999}}", { error: "template parsing error: template: :1: integer overflow: \"99999999999999999999\"" }],
  ["", "{{\"\\q\"}}", { error: "template parsing error: template: :1: invalid syntax" }],
  ["", "ok {{len 3}}", { error: "template parsing error: template: :1:5: executing \"\" at <len 3>: error calling len: len of type int", partial: "ok " }],
  ["", "a\nb\n  {{index .Names 5}}", { error: "template parsing error: template: :3:4: executing \"\" at <index .Names 5>: error calling index: index out of range: 5", partial: "a\nb\n  " }],
  ["", "{{upper 3}}", { error: "template parsing error: template: :1:8: executing \"\" at <3>: expected string; found 3" }],
  ["", "{{upper .Size}}", { error: "template parsing error: template: :1:8: executing \"\" at <.Size>: wrong type for value; expected string; got int" }],
  ["", "{{upper .Missing}}", { error: "template parsing error: template: :1:8: executing \"\" at <.Missing>: invalid value; expected string" }],
  ["", "{{truncate .Name \"3\"}}", { error: "template parsing error: template: :1:17: executing \"\" at <\"3\">: expected integer; found \"3\"" }],
  ["", "{{eq .Name 1}}", { error: "template parsing error: template: :1:2: executing \"\" at <eq .Name 1>: error calling eq: incompatible types for comparison" }],
  ["", "{{lt .Flag true}}", { error: "template parsing error: template: :1:2: executing \"\" at <lt .Flag true>: error calling lt: invalid type for comparison" }],
  ["", "{{.Nil.X}}", { error: "template parsing error: template: :1:6: executing \"\" at <.Nil.X>: nil pointer evaluating interface {}.X" }],
  ["", "{{range .Name}}x{{end}}", { error: "template parsing error: template: :1:8: executing \"\" at <.Name>: range can't iterate over web" }],
  ["", "{{template \"nope\"}}", { error: "template parsing error: template: :1:11: executing \"\" at <{{template \"nope\"}}>: template \"nope\" not defined" }],
  ["", "{{slice .Names 2 1}}", { error: "template parsing error: template: :1:2: executing \"\" at <slice .Names 2 1>: error calling slice: invalid slice index: 2 > 1" }],
  ["", "{{index .Labels 1}}", { error: "template parsing error: template: :1:2: executing \"\" at <index .Labels 1>: error calling index: value has type int; should be string" }],
  ["", "{{eq .Names .Names}}", { error: "template parsing error: template: :1:2: executing \"\" at <eq .Names .Names>: error calling eq: non-comparable type [a b c]: []interface {}" }],
  ["", "{{len .Missing}}", { error: "template parsing error: template: :1:2: executing \"\" at <len .Missing>: error calling len: reflect: call of reflect.Value.Type on zero Value" }],
  ["", "{{and}}", { error: "template parsing error: template: :1:2: executing \"\" at <and>: wrong number of args for and: want at least 1 got 0" }],
  ["", "{{pad .Name 1}}", { error: "template parsing error: template: :1:2: executing \"\" at <pad>: wrong number of args for pad: want 3 got 2" }],
  ["version", "{{.Client.Version", { error: "template parsing error: template: version:1: unclosed action" }],
  ["version", "x {{len .Name 3}}", { error: "template parsing error: template: version:1:4: executing \"version\" at <len>: wrong number of args for len: want 1 got 2", partial: "x " }],
];

describe('template: agrees with Go text/template', () => {
  for (const [name, tmpl, expected] of goCases) {
    it(JSON.stringify(tmpl), () => assert.deepEqual(run(tmpl, data, name), expected));
  }
});

describe('template: constructs', () => {
  it('prints fields, map keys, dot and $', () => {
    assert.equal(run('{{.}}', 'str'), 'str');
    assert.equal(run('{{$.Name}}/{{with .Nested}}{{$.Name}}{{.Inner.Deep}}{{end}}', data), 'web/webx');
    assert.equal(run('{{.Labels}}', data), 'map[a:three b:two com.x:one]');
    assert.equal(run('{{.Mixed}}', data), '[1 a true <nil> map[a:2 z:1]]');
  });

  it('treats missing fields and nil as <no value>', () => {
    assert.equal(run('{{.Nope}}|{{.Nope.Deeper}}|{{.Nil}}|{{index .Labels "nope"}}', data), '<no value>|<no value>|<no value>|');
    assert.equal(run('{{.X}}', undefined), '<no value>');
    assert.equal(run('{{.X}}', null), '<no value>');
  });

  it('index on a string-valued map gives "" for a missing key (map[string]string), <no value> otherwise', () => {
    assert.equal(run('[{{index . "x"}}]', { a: 'b' }), '[]');
    assert.equal(run('[{{index . "x"}}]', {}), '[]');
    assert.equal(run('[{{index . "x"}}]', { a: 1 }), '[<no value>]');
    assert.equal(run('{{index . "a"}}', new Map([['a', 'b']])), 'b');
  });

  it('calls function-valued fields as methods, with arguments and pipeline values', () => {
    const row = {
      ID: 'abc',
      Label: (k: string) => `label:${k}`,
      Upper(this: { ID: string }) {
        return this.ID.toUpperCase();
      },
    };
    assert.equal(run('{{.Label "x"}} {{.Upper}} {{"y" | .Label}}', row), 'label:x ABC label:y');
    assert.deepEqual(run('{{.ID 1}}', row), {
      error: 'template parsing error: template: :1:2: executing "" at <.ID>: ID is not a method but has arguments',
    });
  });

  it('ranges over integers (Go 1.22+) and supports else with (Go 1.23+), as docker v28 does', () => {
    assert.equal(run('{{range 3}}{{.}}{{end}}|{{range $i := 2}}{{$i}}{{end}}|{{range 0}}x{{else}}none{{end}}', null), '012|01|none');
    assert.equal(run('{{with 0}}a{{else with 2}}b{{.}}{{end}}|{{with 0}}a{{else with 0}}b{{else}}c{{end}}', null), 'b2|c');
    assert.deepEqual(run('{{if 0}}a{{else with 1}}b{{end}}', null), {
      error: 'template parsing error: template: :1: unexpected <with> in input',
    });
  });

  it('ranges over maps in key order', () => {
    assert.equal(run('{{range $k, $v := .}}{{$k}}={{$v}} {{end}}', { b: 1, a: 2, c: 3 }), 'a=2 b=1 c=3 ');
    assert.equal(
      run(
        '{{range .}}{{.}}{{end}}',
        new Map([
          [2, 'two'],
          [1, 'one'],
        ]),
      ),
      'onetwo',
    );
  });

  it('trims around {{- and -}} and drops comments', () => {
    assert.equal(run('a \n\t {{- "x" -}} \n b', null), 'axb');
    assert.equal(run('a {{- /* note */ -}} b|{{/* c */}}|', null), 'ab||');
    assert.equal(run('{{-3}} {{- 3}}', null), '-33');
  });

  it('keeps Go number semantics for literals', () => {
    assert.equal(run('{{1e6}} {{1.0}} {{-0.0}} {{0x10}} {{1e-5}} {{printf "%T %T" 1.0 1}}', null), '1e+06 1 -0 16 1e-05 float64 int');
    assert.equal(run('{{printf "%d" 2.0}}', null), '%!d(float64=2)');
    assert.equal(run('{{eq 1.0 1.0}} {{eq 1.5 1.5}} {{lt 1.0 2.0}} {{eq 3 3}} {{eq "a" "a"}}', null), 'true true true true true');
  });

  it('and/or short-circuit and return their operand', () => {
    let called = 0;
    const d = {
      F: () => {
        called++;
        return 'f';
      },
    };
    assert.equal(run('{{or "x" .F}}|{{and "" .F}}|{{and 1 .F}}', d), 'x||f');
    assert.equal(called, 1);
  });

  it('extra functions can be supplied', () => {
    const t = parseTemplate('{{double 21}} {{.N | double}}', { funcs: { double: (n: number) => n * 2 } });
    assert.equal(t.execute({ N: 4 }), '42 8');
  });

  it('reports the fields a template reads', () => {
    const t = parseTemplate('{{.ID}} {{if .Size}}{{.Size | lower}}{{end}} {{range .Ports}}{{.Private}}{{end}} {{$.Names}} {{(index .Labels "x")}}');
    assert.deepEqual([...t.fields()].sort(), ['ID', 'Labels', 'Names', 'Ports', 'Private', 'Size']);
  });
});

describe('template: docker functions', () => {
  it('json is compact, keeps insertion order, does not HTML-escape (docker disables it), sorts Maps', () => {
    assert.equal(
      run('{{json .}}', { b: 1, a: [true, null, 'x<y>&z'], c: { z: 1.5, y: 'é' } }),
      '{"b":1,"a":[true,null,"x<y>&z"],"c":{"z":1.5,"y":"é"}}',
    );
    assert.equal(
      run(
        '{{json .}}',
        new Map([
          ['b', 1],
          ['a', 2],
        ]),
      ),
      '{"a":2,"b":1}',
    );
    assert.equal(run('{{json .Missing}} {{json "\\u2028\\t\\b\\u0001"}}', {}), 'null "\\u2028\\t\\b\\u0001"');
    assert.equal(run('{{json 1e21}} {{json 1e-7}} {{json 0.000001}} {{json 123456789.5}}', null), '1e+21 1e-7 0.000001 123456789.5');
  });

  it('join, split, lower, upper, title, truncate, pad', () => {
    assert.equal(run('{{join . ","}}', ['a', 'b']), 'a,b');
    assert.equal(run('{{join . ","}}', [1, 'x', null]), '1,x,<nil>');
    assert.equal(run('{{split "a:b::c" ":"}} {{len (split "abc" "")}}', null), '[a b  c] 3');
    assert.equal(run('{{lower "ÀB"}} {{upper "àb ß"}} {{title "hello wORLD-x_y ǆ"}}', null), 'àb ÀB ß Hello WORLD-X_y ǅ');
    assert.equal(run('[{{truncate "héllo" 3}}][{{truncate "ab" 5}}][{{pad "x" 1 2}}][{{pad "" 1 2}}]', null), '[hé][ab][ x  ][]');
  });
});

describe('template: errors', () => {
  it("parse errors read like docker's, with the template name", () => {
    assert.throws(() => parseTemplate('{{.Name'), { message: 'template parsing error: template: :1: unclosed action' });
    assert.throws(() => parseTemplate('{{.Client.Version', { name: 'version' }), {
      message: 'template parsing error: template: version:1: unclosed action',
    });
    assert.throws(() => parseTemplate('{{.Name)}}'), { message: 'template parsing error: template: :1: unexpected right paren' });
    assert.throws(() => parseTemplate('a\n\n{{if .X}}\n{{.Y\n'), {
      message: 'template parsing error: template: :5: unclosed action started at :4',
    });
  });

  it('execution errors carry the position, the node and the output so far', () => {
    try {
      parseTemplate('ok {{.A}}\n  {{len .A}}').execute({ A: 5 });
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(e instanceof TemplateError);
      assert.equal(e.message, 'template parsing error: template: :2:4: executing "" at <len .A>: error calling len: len of type int');
      assert.equal(e.goMessage, 'template: :2:4: executing "" at <len .A>: error calling len: len of type int');
      assert.equal(e.partial, 'ok 5\n  ');
    }
  });

  it('unknown fields of struct-like values (class instances) are errors', () => {
    class Row {
      ID = 'x';
    }
    assert.deepEqual(run('{{.Nope}}', new Row()), {
      error: 'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *Row',
    });
  });
});

describe('gofmt', () => {
  it('Sprint/Sprintf follow fmt', () => {
    assert.equal(sprint(1, 2, 'a', 'b', 3), '1 2ab3');
    assert.equal(sprintf('%6.2f|%-8.1e|%+.1f|%08.3f', 3.14159, 1234.5, 2, -3.14159), '  3.14|1.2e+03 |+2.0|-003.142');
    assert.equal(sprintf('%x %X %o %b %#x %c %U %#U', 255, 255, 8, 5, 255, 65, 0x1f600, 65), "ff FF 10 101 0xff A U+1F600 U+0041 'A'");
    assert.equal(sprintf('%q %v %s', 'a"b\n', [1, 'x'], ['a', 'b']), '"a\\"b\\n" [1 x] [a b]');
    assert.equal(sprintf('%d %s %d', 'x', 5), '%!d(string=x) %!s(int=5) %!d(MISSING)');
    assert.equal(sprintf('%d', 1, 'extra'), '1%!(EXTRA string=extra)');
    assert.equal(sprintf('%*d|%-*d|%[2]d %[1]d', 3, 1, 3, 2), '  1|2  |1 3');
    assert.equal(sprintf('%x %.3x', 3.5, 1 / 3), '0x1.cp+01 0x1.555p-02');
    assert.equal(sprintf('%v %v %v', new GoFloat(1e6), 1234567.5, 1e-7), '1e+06 1.2345675e+06 1e-07');
  });

  it('formats floats exactly as strconv, rounding halves to even', () => {
    assert.equal(formatFloat(0.125, 'f', 2), '0.12');
    assert.equal(formatFloat(0.375, 'f', 2), '0.38');
    assert.equal(formatFloat(2.5, 'f', 0), '2');
    assert.equal(formatFloat(1.005, 'f', 2), '1.00'); // 1.005 is below the half in binary
    assert.equal(formatFloat(999.5, 'g', 3), '1e+03');
    assert.equal(formatFloat(100, 'g', 3), '100');
    assert.equal(formatFloat(123456, 'g', -1), '123456');
    assert.equal(formatFloat(1234567, 'g', -1), '1.234567e+06');
    assert.equal(formatFloat(5e-324, 'e', -1), '5e-324');
  });

  it('encodes JSON like encoding/json', () => {
    assert.equal(goJSON({ a: '<>&' }, { escapeHTML: true }), '{"a":"\\u003c\\u003e\\u0026"}');
    assert.equal(goJSON({ b: 1, a: 2 }, { sortKeys: true }), '{"a":2,"b":1}');
    assert.equal(goJSON(new Uint8Array([1, 2, 3])), '"AQID"');
    assert.throws(() => goJSON(NaN), /json: unsupported value: NaN/);
  });
});

describe('tabwriter (Go text/tabwriter semantics, docker settings)', () => {
  it('pads tab-terminated cells to the widest cell + 3, at least 10, and leaves the last cell alone', () => {
    assert.equal(
      tabulate('NAME\tID\tSIZE\na\t1\t10B\nlonger-name-here\t22222\t1.5MB\n'),
      'NAME               ID        SIZE\na                  1         10B\nlonger-name-here   22222     1.5MB\n',
    );
  });

  it('a line without tabs ends the column block', () => {
    assert.equal(tabulate('A\tB\nno tabs here\nx\ty\nlonger value\tz\n'), 'A         B\nno tabs here\nx              y\nlonger value   z\n');
  });

  it('columns are blocks of consecutive lines that have that column', () => {
    assert.equal(tabulate('a\tb\tc\naa\naaa\tbbb\na\tb\tc\td\n'), 'a         b         c\naa\naaa       bbb\na         b         c         d\n');
  });

  it('empty cells and trailing tabs are padded (as Go does)', () => {
    assert.equal(tabulate('a\tb\t\naaaa\t\tc\n'), 'a         b         \naaaa                c\n');
  });

  it('matches Go with other settings (tabs, minwidth 0, right alignment) and across writes', () => {
    assert.equal(tabulate('a\tb\nc\td', 0, 8, 1, '\t', 0), 'a\tb\nc\td');
    assert.equal(tabulate('a\tbb\tc\naaa\tb\tc\n', 5, 0, 2, '.', 4), '....a...bbc\n..aaa....bc\n');
    assert.equal(new TabWriter().write('x\ty').write('y\nzzz\t').write('w\n').flush(), 'x         yy\nzzz       w\n');
  });

  it('measures East Asian wide characters as two columns', () => {
    assert.equal(stringWidth('日本'), 4);
    assert.equal(stringWidth('ünïcödé'), 7);
    assert.equal(stringWidth('e\u0301'), 1);
    assert.equal(tabulate('日本\tx\nab\ty\n'), '日本      x\nab        y\n');
  });
});

// Rows like `docker context ls` shows: that command needs no daemon, so the expected outputs below were printed
// by the docker CLI 28.2.2 itself.
const contexts = [
  { Name: 'aaa-very-long-context-name', Description: 'a <b> & "c" ünïcödé 日本', DockerEndpoint: 'tcp://10.0.0.1:2375', Current: false, Error: '' },
  { Name: 'c-empty', Description: '', DockerEndpoint: 'ssh://u@h', Current: false, Error: '' },
  { Name: 'default', Description: 'Current DOCKER_HOST based configuration', DockerEndpoint: 'unix:///var/run/docker.sock', Current: true, Error: '' },
];
const contextList = {
  defaultTable: 'table {{.Name}}{{if .Current}} *{{end}}\\t{{.Description}}\\t{{.DockerEndpoint}}\\t{{.Error}}',
  headers: { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR' },
  quietFormat: '{{.Name}}',
  quietOverridesFormat: true,
  typeName: '*formatter.clientContextContext',
};
const ls = (format?: string, quiet = false) => renderList(contexts, { ...contextList, format, quiet });

describe('renderList: byte-identical to docker context ls', () => {
  it('default table', () => {
    const expected =
      'NAME                         DESCRIPTION                               DOCKER ENDPOINT               ERROR\n' +
      'aaa-very-long-context-name   a <b> & "c" ünïcödé 日本                  tcp://10.0.0.1:2375           \n' +
      'c-empty                                                                ssh://u@h                     \n' +
      'default *                    Current DOCKER_HOST based configuration   unix:///var/run/docker.sock   \n';
    assert.equal(ls(), expected);
    assert.equal(ls('table'), expected);
  });

  it('--format json: one object per line, keys sorted, <>& escaped', () => {
    assert.equal(
      ls('json'),
      '{"Current":false,"Description":"a \\u003cb\\u003e \\u0026 \\"c\\" ünïcödé 日本","DockerEndpoint":"tcp://10.0.0.1:2375","Error":"","Name":"aaa-very-long-context-name"}\n' +
        '{"Current":false,"Description":"","DockerEndpoint":"ssh://u@h","Error":"","Name":"c-empty"}\n' +
        '{"Current":true,"Description":"Current DOCKER_HOST based configuration","DockerEndpoint":"unix:///var/run/docker.sock","Error":"","Name":"default"}\n',
    );
    assert.equal(ls('{{json .}}'), ls('json'));
  });

  it('custom table: header names, <no value> for a field without one, functions leave headers intact', () => {
    assert.equal(
      ls('table {{.Name}}\\t{{.Current}}\\t{{json .Description}}'),
      'NAME                         <no value>   DESCRIPTION\n' +
        'aaa-very-long-context-name   false        "a <b> & \\"c\\" ünïcödé 日本"\n' +
        'c-empty                      false        ""\n' +
        'default                      true         "Current DOCKER_HOST based configuration"\n',
    );
    assert.equal(
      ls('table {{.Name | upper}}\\t{{.Description | lower}}\\t{{truncate .Name 3}}|'),
      'NAME                         DESCRIPTION                               NAME|\n' +
        'AAA-VERY-LONG-CONTEXT-NAME   a <b> & "c" ünïcödé 日本                  aaa|\n' +
        'C-EMPTY                                                                c-e|\n' +
        'DEFAULT                      current docker_host based configuration   def|\n',
    );
  });

  it('a raw template has no header and no alignment (\\t becomes a tab)', () => {
    assert.equal(ls('{{.Name}}\\t{{.DockerEndpoint}}'), 'aaa-very-long-context-name\ttcp://10.0.0.1:2375\nc-empty\tssh://u@h\ndefault\tunix:///var/run/docker.sock\n');
  });

  it('-q', () => {
    assert.equal(ls(undefined, true), 'aaa-very-long-context-name\nc-empty\ndefault\n');
    assert.equal(ls('{{.Description}}', true), 'aaa-very-long-context-name\nc-empty\ndefault\n');
  });

  it('errors', () => {
    assert.throws(() => ls('table {{.Name}}\\t{{.Nope}}'), {
      message:
        'template parsing error: template: :1:12: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.clientContextContext',
    });
    assert.throws(() => ls('table {{.Name'), { message: 'template parsing error: template: :1: unclosed action' });
  });
});

describe('renderList: docker conventions', () => {
  const images = [
    { Repository: 'nginx', Tag: 'latest', ID: 'a6bd71f48f68', CreatedSince: '2 weeks ago', Size: '192MB', Labels: 'a=b' },
    { Repository: 'registry.example.com/team/app', Tag: 'v1.2.3', ID: '0123456789ab', CreatedSince: '', Size: '4.26MB', Labels: '' },
  ];
  const imageList = {
    defaultTable: 'table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\\t{{.Size}}',
    headers: { Repository: 'REPOSITORY', Tag: 'TAG', ID: 'IMAGE ID', CreatedSince: 'CREATED', Size: 'SIZE', Labels: 'LABELS' },
  };

  it("renders docker images' default table", () => {
    assert.equal(
      renderList(images, imageList),
      'REPOSITORY                      TAG       IMAGE ID       CREATED       SIZE\n' +
        'nginx                           latest    a6bd71f48f68   2 weeks ago   192MB\n' +
        'registry.example.com/team/app   v1.2.3    0123456789ab   N/A           4.26MB\n',
    );
  });

  it('an empty list prints only the header of a table, nothing otherwise', () => {
    assert.equal(renderList([], imageList), 'REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n');
    assert.equal(renderList([], { ...imageList, format: '{{.ID}}' }), '');
    assert.equal(renderList([], { ...imageList, format: 'json' }), '');
  });

  it('-q prints IDs for the default table, but a custom --format wins (docker images)', () => {
    assert.equal(renderList(images, { ...imageList, quiet: true }), 'a6bd71f48f68\n0123456789ab\n');
    assert.equal(renderList(images, { ...imageList, quiet: true, format: '{{.Tag}}' }), 'latest\nv1.2.3\n');
    assert.equal(renderList(images, { ...imageList, format: 'raw', raw: 'id: {{.ID}}\\n' }), 'id: a6bd71f48f68\n\nid: 0123456789ab\n\n');
  });

  it('header of {{.Label "…"}} is the last part of the label name', () => {
    const rows = [{ ID: 'x', Label: (k: string) => (k === 'com.docker.compose.project' ? 'proj' : '') }];
    assert.equal(
      renderList(rows, { ...imageList, format: 'table {{.ID}}\\t{{.Label "com.docker.compose.project"}}' }),
      'IMAGE ID   project\nx          proj\n',
    );
  });

  it("a row's zero-argument methods appear in its JSON", () => {
    const rows = [{ ID: 'x', Size: () => '1kB', Label: (k: string) => k }];
    assert.equal(renderList(rows, { ...imageList, format: 'json' }), '{"ID":"x","Size":"1kB"}\n');
  });

  it('format preprocessing', () => {
    assert.equal(templateText('table  {{.A}}\\t{{.B}}\\n  '), '{{.A}}\t{{.B}}\n');
    assert.equal(templateText(' table {{.A}}'), 'table {{.A}}'); // only a leading "table" counts
    assert.equal(templateText('json'), '{{json .}}');
    assert.equal(templateText('{{json .}}'), '{{json .}}');
    assert.equal(resolveListFormat({ ...imageList, format: '' }), imageList.defaultTable);
    assert.equal(DEFAULT_ROW_TYPE, '*formatter.rowContext');
  });

  it('fieldsUsed finds the fields a format reads (docker ps asks for sizes only when .Size is used)', () => {
    assert.ok(fieldsUsed('table {{.ID}}\\t{{.Size}}').has('Size'));
    assert.ok(!fieldsUsed('table {{.ID}}').has('Size'));
  });

  it('renderObjects formats each object like docker inspect/version (no table processing)', () => {
    assert.equal(renderObjects([{ A: 1 }, { A: 2 }], '{{.A}}\\t{{json .}}'), '1\\t{"A":1}\n2\\t{"A":2}\n');
    assert.throws(() => renderObjects([{}], '{{.Client', { name: 'version' }), {
      message: 'template parsing error: template: version:1: unclosed action',
    });
  });
});

describe('units (go-units v0.5.0, as the docker CLI uses it)', () => {
  it('humanSize: decimal, 3 significant digits', () => {
    const cases: [number, string][] = [
      [0, '0B'],
      [1, '1B'],
      [999, '999B'],
      [1000, '1kB'],
      [1001, '1kB'],
      [1125, '1.12kB'],
      [1126, '1.13kB'],
      [1500, '1.5kB'],
      [99949, '99.9kB'],
      [99950, '100kB'],
      [999499, '999kB'],
      [999500, '1e+03kB'],
      [1e6, '1MB'],
      [4261228, '4.26MB'],
      [123456789, '123MB'],
      [1.5e12, '1.5TB'],
      [1e15, '1PB'],
      [1e27, '1e+03YB'],
    ];
    for (const [n, s] of cases) assert.equal(humanSize(n), s, String(n));
    assert.equal(humanSize4(4261228), '4.261MB');
    assert.equal(humanSize4(999950), '1000kB');
  });

  it('bytesSize: binary, 4 significant digits', () => {
    const cases: [number, string][] = [
      [0, '0B'],
      [1023, '1023B'],
      [1024, '1KiB'],
      [1572864, '1.5MiB'],
      [1048575, '1024KiB'],
      [2 ** 30, '1GiB'],
      [17 * 2 ** 20 + 5, '17MiB'],
      [2 ** 50, '1PiB'],
    ];
    for (const [n, s] of cases) assert.equal(bytesSize(n), s, String(n));
  });

  it('humanDuration thresholds', () => {
    const S = 1000;
    const M = 60 * S;
    const H = 60 * M;
    const D = 24 * H;
    const cases: [number, string][] = [
      [-5 * S, 'Less than a second'],
      [0, 'Less than a second'],
      [999, 'Less than a second'],
      [1000, '1 second'],
      [1999, '1 second'],
      [2000, '2 seconds'],
      [59999, '59 seconds'],
      [M, 'About a minute'],
      [2 * M - 1, 'About a minute'],
      [2 * M, '2 minutes'],
      [H - 1, '59 minutes'],
      [H, 'About an hour'],
      [1.5 * H - 1, 'About an hour'],
      [1.5 * H, '2 hours'],
      [47 * H + 29 * M, '47 hours'],
      [47.5 * H, '2 days'],
      [13 * D, '13 days'],
      [14 * D - 31 * M, '13 days'],
      [14 * D, '2 weeks'],
      [59 * D, '8 weeks'],
      [60 * D, '2 months'],
      [729 * D, '24 months'],
      [730 * D, '2 years'],
      [1000 * D, '2 years'],
      [1095 * D, '3 years'],
    ];
    for (const [ms, s] of cases) assert.equal(humanDuration(ms), s, String(ms));
  });

  it('timeAgo', () => {
    const now = Date.parse('2024-06-01T12:00:00Z');
    assert.equal(timeAgo(new Date(now - 3 * 3600e3), now), '3 hours ago');
    assert.equal(timeAgo('2024-05-18T12:00:00Z', now), '2 weeks ago');
    assert.equal(timeAgo(now - 500, now), 'Less than a second ago');
  });

  it('parseBytes (RAMInBytes): binary units, case-insensitive, optional b/ib', () => {
    const ok: [string, number][] = [
      ['512m', 512 * 2 ** 20],
      ['1g', 2 ** 30],
      ['1G', 2 ** 30],
      ['1GB', 2 ** 30],
      ['1GiB', 2 ** 30],
      ['1gib', 2 ** 30],
      ['100', 100],
      ['100b', 100],
      ['1.5k', 1536],
      ['1.5 kb', 1536],
      ['1 kib', 1024],
      ['1tb', 2 ** 40],
      ['.5g', 2 ** 29],
      ['10 ', 10],
      ['1e3k', 1024000],
      ['1_000', 1000],
    ];
    for (const [s, n] of ok) assert.equal(parseBytes(s), n, s);
    assert.equal(parseHumanSize('44kB'), 44000);
    const bad: [string, string][] = [
      ['m', "invalid size: 'm'"],
      ['', "invalid size: ''"],
      ['-1', "invalid size: '-1'"],
      ['1x', "invalid suffix: 'x'"],
      ['1kk', "invalid suffix: 'kk'"],
      ['1kbb', "invalid suffix: 'kbb'"],
      ['1bi', "invalid suffix: 'bi'"],
      ['1eb', "invalid suffix: 'eb'"],
      ['abc', "invalid size: 'abc'"],
      ['12abcd', "invalid suffix: 'abcd'"],
      ['1..2k', 'strconv.ParseFloat: parsing "1..2": invalid syntax'],
    ];
    for (const [s, msg] of bad) assert.throws(() => parseBytes(s), { message: msg }, s);
  });
});
