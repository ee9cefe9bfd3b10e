"""Shape assertions: key sets and value types of JSON bodies, never values such as ids.

A spec is a Python type (``str``, ``int``, ``bool``, ``dict``, ``list``, ``type(None)``), a
tuple of alternatives, a ``Re`` (a string matching a regular expression), a ``ListOf``, or a
dict spec: ``{key: spec}``. ``Keys(spec, exact=True)`` also demands that the object has no
other keys than the spec's; ``Optional`` marks a key that may be missing.
"""
import re

NoneType = type(None)
UUID = r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'


class Re:
    def __init__(self, pattern, name=None):
        self.pattern = re.compile(pattern)
        self.name = name or pattern

    def __repr__(self):
        return f'Re({self.name})'


class ListOf:
    def __init__(self, spec, min_len=0):
        self.spec = spec
        self.min_len = min_len

    def __repr__(self):
        return f'ListOf({self.spec!r})'


class DictOf:
    """A dict with arbitrary keys, every value of the given spec."""

    def __init__(self, spec):
        self.spec = spec


class Optional:
    def __init__(self, spec):
        self.spec = spec


class Keys:
    def __init__(self, spec, exact=True):
        self.spec = spec
        self.exact = exact


# Timestamps as the services write them.
ISO_Z = Re(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', 'YYYY-MM-DDTHH:MM:SSZ')
ISO_US = Re(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$', 'YYYY-MM-DDTHH:MM:SS.ffffff')
UUID_RE = Re(f'^{UUID}$', 'uuid')
HEX32 = Re(r'^[0-9a-f]{32}$', 'hex32')


def _tname(t):
    return getattr(t, '__name__', repr(t))


def errors(obj, spec, path='$'):
    """The list of differences between obj and spec (empty when it matches)."""
    if isinstance(spec, Keys):
        errs = errors(obj, spec.spec, path)
        if isinstance(obj, dict) and spec.exact:
            extra = sorted(set(obj) - set(spec.spec))
            if extra:
                errs.append(f'{path}: unexpected keys {extra}')
        return errs
    if isinstance(spec, dict):
        if not isinstance(obj, dict):
            return [f'{path}: expected an object, got {_tname(type(obj))} {obj!r:.80}']
        errs = []
        for k, sub in spec.items():
            if isinstance(sub, Optional):
                if k in obj:
                    errs += errors(obj[k], sub.spec, f'{path}.{k}')
                continue
            if k not in obj:
                errs.append(f'{path}: missing key {k!r}')
            else:
                errs += errors(obj[k], sub, f'{path}.{k}')
        return errs
    if isinstance(spec, tuple):
        alts = [errors(obj, s, path) for s in spec]
        if any(not e for e in alts):
            return []
        return [f'{path}: {obj!r:.80} matches none of {spec!r}: ' + '; '.join(a[0] for a in alts)]
    if isinstance(spec, ListOf):
        if not isinstance(obj, list):
            return [f'{path}: expected a list, got {_tname(type(obj))} {obj!r:.80}']
        errs = [] if len(obj) >= spec.min_len else [f'{path}: expected at least {spec.min_len} items, got {len(obj)}']
        for i, it in enumerate(obj):
            errs += errors(it, spec.spec, f'{path}[{i}]')
        return errs
    if isinstance(spec, DictOf):
        if not isinstance(obj, dict):
            return [f'{path}: expected an object, got {_tname(type(obj))}']
        errs = []
        for k, v in obj.items():
            errs += errors(v, spec.spec, f'{path}.{k}')
        return errs
    if isinstance(spec, Re):
        if not isinstance(obj, str) or not spec.pattern.search(obj):
            return [f'{path}: {obj!r:.80} does not match {spec.name}']
        return []
    if isinstance(spec, type):
        # bool is an int in Python; keep them apart
        if spec is int and isinstance(obj, bool):
            return [f'{path}: expected int, got bool {obj!r}']
        if not isinstance(obj, spec):
            return [f'{path}: expected {_tname(spec)}, got {_tname(type(obj))} {obj!r:.80}']
        return []
    if obj != spec:  # a literal value
        return [f'{path}: expected {spec!r}, got {obj!r:.80}']
    return []


def assert_shape(obj, spec, what='body'):
    errs = errors(obj, spec)
    assert not errs, f'{what} does not have the expected shape:\n  ' + '\n  '.join(errs)


def assert_keys(obj, expected, what='object'):
    """obj's key set equals expected; the message names the missing and the unexpected keys."""
    missing = sorted(set(expected) - set(obj))
    extra = sorted(set(obj) - set(expected))
    assert not missing and not extra, f'{what}: missing keys {missing}, unexpected keys {extra}'
