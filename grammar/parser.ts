/**
 * The chevrotain CstParser for the whole `.moe` language. It is a pure grammar (no actions): the
 * CST → AST visitor lives in compiler/syntax. Error recovery is on so a broken file still yields a
 * tree; one parser instance is reused for every parse.
 */
import { CstParser, type IToken } from 'chevrotain';
import { errorMessageProvider } from './errors.js';
import * as T from './tokens.js';

export class MoeParser extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: true, maxLookahead: 2, nodeLocationTracking: 'full', errorMessageProvider });
    this.performSelfAnalysis();
  }

  readonly file = this.RULE('file', () => {
    this.MANY(() => this.SUBRULE(this.topItem));
  });

  private readonly topItem = this.RULE('topItem', () => {
    // `pipeline r1 { a -> b }` also reads as a block of kind `pipeline`: the pipeline alternative wins
    this.OR({
      IGNORE_AMBIGUITIES: true,
      DEF: [
      { ALT: () => this.SUBRULE(this.importDecl) },
      { ALT: () => this.SUBRULE(this.constDecl) },
      { ALT: () => this.SUBRULE(this.pipelineDecl) },
      { ALT: () => this.SUBRULE(this.blockDecl) },
      ],
    });
  });

  private readonly importDecl = this.RULE('importDecl', () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.StringLiteral);
  });

  private readonly constDecl = this.RULE('constDecl', () => {
    this.CONSUME(T.Const);
    this.CONSUME(T.Name);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  /** `pipeline r1 { base -> cold -> reason, cold -> other }` */
  private readonly pipelineDecl = this.RULE('pipelineDecl', () => {
    this.CONSUME(T.Pipeline);
    this.CONSUME(T.Name);
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.chain);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
  });

  private readonly chain = this.RULE('chain', () => {
    this.CONSUME(T.Name);
    this.MANY(() => {
      this.CONSUME(T.Arrow);
      this.CONSUME2(T.Name);
    });
  });

  /** `model Big extends Small { ... }`; the kind is any name so a misspelt kind gets a did-you-mean. */
  private readonly blockDecl = this.RULE('blockDecl', () => {
    this.CONSUME(T.Name, { LABEL: 'kind' });
    this.CONSUME2(T.Name, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.Extends);
      this.CONSUME3(T.Name, { LABEL: 'base' });
    });
    this.SUBRULE(this.body);
  });

  readonly body = this.RULE('body', () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.member);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
  });

  private readonly member = this.RULE('member', () => {
    this.OR([
      {
        // `layers 1..5 { ... }` (but `layers = 6` is a field)
        GATE: () => this.LA(1).tokenType === T.Layers && this.LA(2).tokenType !== T.Equals,
        ALT: () => this.SUBRULE(this.layerRange),
      },
      // `name = value`
      { GATE: () => this.LA(2).tokenType === T.Equals, ALT: () => this.SUBRULE(this.field) },
      // `name { ... }` or `name variant { ... }`
      {
        GATE: () => this.LA(2).tokenType === T.LBrace || this.LA(3).tokenType === T.LBrace,
        ALT: () => this.SUBRULE(this.nested),
      },
      // `accuracy 0.4 = answer { ... }`
      { ALT: () => this.SUBRULE(this.weighted) },
    ]);
  });

  private readonly layerRange = this.RULE('layerRange', () => {
    this.CONSUME(T.Layers);
    this.SUBRULE(this.additive, { LABEL: 'from' });
    this.CONSUME(T.DotDot);
    this.SUBRULE2(this.additive, { LABEL: 'to' });
    this.SUBRULE(this.body);
  });

  private readonly field = this.RULE('field', () => {
    this.CONSUME(T.Name);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  private readonly nested = this.RULE('nested', () => {
    this.CONSUME(T.Name, { LABEL: 'name' });
    this.OPTION(() => this.CONSUME2(T.Name, { LABEL: 'variant' }));
    this.SUBRULE(this.body);
  });

  private readonly weighted = this.RULE('weighted', () => {
    this.CONSUME(T.Name);
    this.SUBRULE(this.primary, { LABEL: 'weight' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  // ── expressions ─────────────────────────────────────────────────────────────────────────────
  readonly expression = this.RULE('expression', () => {
    this.SUBRULE(this.additive);
  });

  private readonly additive = this.RULE('additive', () => {
    this.SUBRULE(this.multiplicative, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus, { LABEL: 'ops' }) }, { ALT: () => this.CONSUME(T.Minus, { LABEL: 'ops' }) }]);
      this.SUBRULE2(this.multiplicative, { LABEL: 'operands' });
    });
  });

  private readonly multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: 'ops' }) },
        { ALT: () => this.CONSUME(T.Slash, { LABEL: 'ops' }) },
        { ALT: () => this.CONSUME(T.Modulo, { LABEL: 'ops' }) },
      ]);
      this.SUBRULE2(this.unary, { LABEL: 'operands' });
    });
  });

  private readonly unary = this.RULE('unary', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus, { LABEL: 'sign' });
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  private readonly primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.quantity) },
      { ALT: () => this.CONSUME(T.StringLiteral) },
      { ALT: () => this.CONSUME(T.RawString) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME(T.None) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.body) },
      { ALT: () => this.SUBRULE(this.nameExpr) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(T.RParen);
        },
      },
    ]);
  });

  /** A number with an optional unit on the same line: `2000 steps`, `80GiB`, `1.2T tokens`. */
  private readonly quantity = this.RULE('quantity', () => {
    this.CONSUME(T.NumberLiteral);
    this.OPTION({
      GATE: () => sameLine(this.LA(0), this.LA(1)),
      DEF: () => this.CONSUME(T.Unit),
    });
  });

  /** A reference `a.b`, a call `min(a, b)` or a variant value `bias { rate = 1e-3 }`. */
  private readonly nameExpr = this.RULE('nameExpr', () => {
    this.CONSUME(T.Name);
    this.OR([
      { GATE: () => this.LA(1).tokenType === T.LBrace, ALT: () => this.SUBRULE(this.body) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.OPTION(() => {
            this.SUBRULE(this.expression, { LABEL: 'args' });
            this.MANY(() => {
              this.CONSUME(T.Comma);
              this.SUBRULE2(this.expression, { LABEL: 'args' });
            });
          });
          this.CONSUME(T.RParen);
        },
      },
      {
        ALT: () =>
          this.MANY2(() => {
            this.CONSUME(T.Dot);
            this.CONSUME2(T.Name, { LABEL: 'path' });
          }),
      },
    ]);
  });

  private readonly list = this.RULE('list', () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.listItem);
      this.MANY({
        GATE: () => this.LA(2).tokenType !== T.RBracket,
        DEF: () => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.listItem);
        },
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
  });

  /** `80% -> 0.316` in a decay list, or a plain item */
  private readonly listItem = this.RULE('listItem', () => {
    this.SUBRULE(this.expression, { LABEL: 'key' });
    this.OPTION(() => {
      this.CONSUME(T.Arrow);
      this.SUBRULE2(this.expression, { LABEL: 'value' });
    });
  });
}

function sameLine(previous: IToken, next: IToken): boolean {
  return previous.endLine !== undefined && previous.endLine === next.startLine;
}

export const parser = new MoeParser();
