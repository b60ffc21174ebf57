"""CEL syntax check for Telemetry access log filters (Istio parses them with cel-go; validation_istiod.go).

A recursive-descent parser of CEL's grammar (github.com/google/cel-spec, langdef.md): it accepts or refuses
an expression as cel-go's parser does for the syntax; it does not type-check (neither does Istio here).
"""
from __future__ import annotations

import re

_STRING = (r'[rR]?[bB]?[rR]?(' + r'"{3}(?:\\.|[^\\])*?"{3}' + r"|'{3}(?:\\.|[^\\])*?'{3}" +
           r'|"(?:\\.|[^"\\\n])*"' + r"|'(?:\\.|[^'\\\n])*')")
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    rf"|(?P<str>{_STRING})"
    r"|(?P<num>0[xX][0-9a-fA-F]+[uU]?|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?[uU]?)"
    r"|(?P<id>[_a-zA-Z][_a-zA-Z0-9]*)"
    r"|(?P<op>\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])", re.DOTALL)
RESERVED = {"as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package",
            "namespace", "return", "var", "void", "while"}


class CELSyntaxError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        mt = _TOKEN.match(text, pos)
        if mt is None:
            raise CELSyntaxError(f"<input>:1:{pos + 1}: Syntax error: token recognition error at: '{text[pos]}'")
        kind = mt.lastgroup or ""
        if kind != "ws":
            value = mt.group(kind)
            if kind == "id" and value in ("in",):
                kind = "op"
            out.append((kind, value, pos + 1))
        pos = mt.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]]) -> None:
        self.t = tokens
        self.i = 0

    def peek(self, *values: str) -> bool:
        return self.i < len(self.t) and self.t[self.i][1] in values and self.t[self.i][0] == "op"

    def take(self, value: str) -> None:
        if not self.peek(value):
            self.fail(f"missing '{value}'")
        self.i += 1

    def fail(self, what: str) -> None:
        col = self.t[self.i][2] if self.i < len(self.t) else (self.t[-1][2] + len(self.t[-1][1]) if self.t else 1)
        found = repr(self.t[self.i][1]) if self.i < len(self.t) else "<EOF>"
        raise CELSyntaxError(f"<input>:1:{col}: Syntax error: {what} at {found}")

    def expr(self) -> None:
        self.cond_or()
        if self.peek("?"):
            self.i += 1
            self.cond_or()
            self.take(":")
            self.expr()

    def cond_or(self) -> None:
        self.cond_and()
        while self.peek("||"):
            self.i += 1
            self.cond_and()

    def cond_and(self) -> None:
        self.relation()
        while self.peek("&&"):
            self.i += 1
            self.relation()

    def relation(self) -> None:
        self.addition()
        while self.peek("<", "<=", ">=", ">", "==", "!=", "in"):
            self.i += 1
            self.addition()

    def addition(self) -> None:
        self.multiplication()
        while self.peek("+", "-"):
            self.i += 1
            self.multiplication()

    def multiplication(self) -> None:
        self.unary()
        while self.peek("*", "/", "%"):
            self.i += 1
            self.unary()

    def unary(self) -> None:
        while self.peek("!", "-"):
            self.i += 1
        self.member()

    def member(self) -> None:
        self.primary()
        while True:
            if self.peek("."):
                self.i += 1
                self.ident()
                if self.peek("("):
                    self.args(")")
            elif self.peek("["):
                self.i += 1
                self.expr()
                self.take("]")
            elif self.peek("{"):
                self.inits("}", keyed=False)
            else:
                return

    def ident(self) -> None:
        if self.i >= len(self.t) or self.t[self.i][0] != "id" or self.t[self.i][1] in RESERVED:
            self.fail("expected an identifier")
        self.i += 1

    def args(self, close: str) -> None:
        self.i += 1  # the opening bracket
        if self.peek(close):
            self.i += 1
            return
        self.expr()
        while self.peek(","):
            self.i += 1
            if self.peek(close):
                break
            self.expr()
        self.take(close)

    def inits(self, close: str, keyed: bool) -> None:
        self.i += 1
        if self.peek(close):
            self.i += 1
            return
        while True:
            if keyed:
                self.expr()
            else:
                self.ident()
            self.take(":")
            self.expr()
            if not self.peek(","):
                break
            self.i += 1
            if self.peek(close):
                break
        self.take(close)

    @staticmethod
    def _field_selection(arg: list[tuple[str, str, int]]) -> bool:
        """has() takes one field selection (a.b, a[0].b): ends with '.' and a name, no operator outside brackets."""
        if len(arg) < 3 or arg[-1][0] != "id" or arg[-2][1] != ".":
            return False
        depth = 0
        for kind, value, _ in arg:
            if kind == "op" and value in "([{":
                depth += 1
            elif kind == "op" and value in ")]}":
                depth -= 1
            elif depth == 0 and kind == "op" and value not in (".",):
                return False
        return True

    def primary(self) -> None:
        if self.i >= len(self.t):
            self.fail("mismatched input '<EOF>' expecting an expression")
        kind, value, _ = self.t[self.i]
        if kind in ("num", "str"):
            self.i += 1
        elif kind == "id":
            if value in RESERVED:
                self.fail(f"reserved identifier: {value}")
            self.i += 1
            if self.peek("("):
                start = self.i + 1
                self.args(")")
                if value == "has" and not self._field_selection(self.t[start:self.i - 1]):
                    raise CELSyntaxError(f"<input>:1:{self.t[start - 1][2]}: invalid argument to has() macro")
        elif self.peek("."):
            self.i += 1
            self.ident()
            if self.peek("("):
                self.args(")")
        elif self.peek("("):
            self.i += 1
            self.expr()
            self.take(")")
        elif self.peek("["):
            self.args("]")
        elif self.peek("{"):
            self.inits("}", keyed=True)
        else:
            self.fail(f"mismatched input {value!r} expecting an expression")


def parse_error(text: str) -> str | None:
    """cel-go's syntax error for ``text`` (approximately worded), or None when it parses."""
    try:
        tokens = _tokens(text)
        p = _Parser(tokens)
        p.expr()
        if p.i != len(tokens):
            p.fail("extraneous input")
    except CELSyntaxError as e:
        return f"ERROR: {e}"
    return None
