# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Fast parsers for the header values every SIP message needs: Via, From, To, Contact, CSeq and
Call-ID, giving the *frozen* header objects of ``sipsimple.core.sip.headers``.

The Python header classes are the definition of what a value means. This module only makes the
common, well-formed shapes cheap:

  * each parser is a strict recogniser, in C, of a subset of what the Python parser accepts; on
    that subset it builds exactly the objects the Python parser builds (same classes, same field
    values and types, same parameter order);
  * on anything outside the subset (quoted strings with backslashes, ``%`` escapes, IPv6 hosts,
    URI headers, non-sip URIs, whitespace where the fast path does not expect it, non-ASCII text,
    a value a parameter check would reject...) it calls the Python parser for the whole value, so
    the result, or the SIPParseError, is the Python parser's own. The fast path never raises a
    parse error itself.

Objects are made the way ``_make`` makes them, minus the interpreter: the instance is allocated
with the type's ``tp_alloc`` and its ``__slots__`` are filled through the member offsets, which
are looked up (and checked) when the module loads. Parameter maps are FrozenDicts filled with
``PyDict_SetItem``; an empty map is one shared, immutable FrozenDict.

``serialises_verbatim`` answers, for received bytes, whether ``SIPMessage.to_bytes()`` would
write them back unchanged, so that an unmodified parsed message can be sent as the bytes it came
in (see docs/sip-fastparse.md).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_SetItem
from cpython.long cimport PyLong_FromUnsignedLongLong
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM
from libc.string cimport memchr, memcmp, memcpy
from libc.stdint cimport uint8_t

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_READY(object o) except -1
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    bint PyUnicode_CheckExact(object o)

    ctypedef struct _TypeObject "PyTypeObject"
    ctypedef PyObject* (*_allocfunc)(_TypeObject* t, Py_ssize_t n)
    ctypedef PyObject* (*_newfunc)(_TypeObject* t, PyObject* args, PyObject* kwargs)
    ctypedef struct _TypeObject "PyTypeObject":
        _allocfunc tp_alloc
        _newfunc tp_new

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    int T_OBJECT_EX
    int READONLY

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

import types

#: canonical header name -> fast parser, for ``parse_header(name, value, frozen=True)``. Made
#: before the header modules are imported and filled at the end: importing this module first
#: imports ``headers``, which takes this (still empty) dict, so both import orders share it.
FAST_PARSERS = {}

from ._grammar import FrozenDict, QuotedString
from ._scanner import CANONICAL_HEADER_NAMES, COMPACT_FORMS
from .headers._address import FrozenContactHeader, FrozenFromHeader, FrozenToHeader
from .headers._scalar import FrozenCallIDHeader, FrozenCSeqHeader
from .headers._via import FrozenViaHeader
from .uri import FrozenSIPURI

__all__ = [
    "FAST_PARSERS",
    "parse_call_id",
    "parse_contact_list",
    "parse_cseq",
    "parse_from",
    "parse_sip_uri",
    "parse_to",
    "parse_via_list",
    "serialises_verbatim",
]

ctypedef const uint8_t* cstr

cdef enum:
    _HT = 9
    _LF = 10
    _CR = 13
    _SP = 32
    _DQUOTE = 34
    _COMMA = 44
    _COLON = 58
    _SEMI = 59
    _LT = 60
    _EQ = 61
    _GT = 62
    _QMARK = 63
    _AT = 64
    _BACKSLASH = 92

# Character classes (RFC 3261 §25.1), as bits of _CLASS[c]; they mirror the regular expressions
# of _grammar.py, uri.py and headers/ exactly, minus '%' (escapes are left to Python).
cdef enum:
    C_TOKEN = 1       # token
    C_VALUE = 2       # unquoted generic-param value: token / host (':' '[' ']')
    C_USER = 4        # URI user, unescaped
    C_PASSWORD = 8    # URI password, unescaped
    C_UPARAM = 16     # URI parameter name/value, unescaped
    C_HOST = 32       # Via sent-by host name characters: A-Z a-z 0-9 _ . -
    C_LABEL = 64      # domain label characters: A-Z a-z 0-9 _
    C_WORD = 128      # Call-ID word

cdef uint8_t _CLASS[256]
cdef uint8_t _LOWER[256]
cdef uint8_t _ADDR_SPEC_STOP[256]   # characters an addr-spec URI may not contain (parse_name_addr)


cdef void _init_classes() except *:
    cdef int c
    alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    token = alnum + b"-.!%*_+`'~"
    unreserved = alnum + b"-_.!~*'()"
    table = (
        (C_TOKEN, token),
        (C_VALUE, token + b":[]"),
        (C_USER, unreserved + b"&=+$,;?/"),
        (C_PASSWORD, unreserved + b"&=+$,"),
        (C_UPARAM, unreserved + b"[]/:&+$"),
        (C_HOST, alnum + b"_.-"),
        (C_LABEL, alnum + b"_"),
        (C_WORD, alnum + b"-.!%*_+`'~()<>:\\\"/[]?{}"),
    )
    for c in range(256):
        _CLASS[c] = 0
        _LOWER[c] = c + 32 if 65 <= c <= 90 else c
        _ADDR_SPEC_STOP[c] = c in b'?, \t<>"'
    for bit, chars in table:
        for c in chars:
            _CLASS[c] |= bit


_init_classes()


# ---------------------------------------------------------------------------------------------
# Making objects without the interpreter
# ---------------------------------------------------------------------------------------------

cdef Py_ssize_t _member_offset(type cls, str name) except -1:
    """The offset of slot ``name`` in instances of ``cls``; ImportError if it is not a plain slot."""
    cdef PyMemberDef* member
    for klass in cls.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None:
            break
    else:
        raise ImportError(f"{cls.__name__} has no slot {name!r}")
    if type(descriptor) is not types.MemberDescriptorType:
        raise ImportError(f"{cls.__name__}.{name} is not a __slots__ member")
    member = (<PyMemberDescrObject*><PyObject*>descriptor).d_member
    if member.type != T_OBJECT_EX or member.flags & READONLY or member.offset <= 0:
        raise ImportError(f"{cls.__name__}.{name} is not a writable object slot")
    return member.offset


cdef inline object _alloc(type cls):
    """A new, empty instance of ``cls`` (what ``cls.__new__(cls)`` gives for these classes)."""
    cdef PyObject* made = (<_TypeObject*>cls).tp_alloc(<_TypeObject*>cls, 0)
    if made == NULL:
        raise MemoryError()
    result = <object>made
    Py_DECREF(result)
    return result


cdef inline void _put(object obj, Py_ssize_t offset, object value) noexcept:
    """Fill an empty slot (the object was just allocated, so there is no old value)."""
    Py_INCREF(value)
    (<PyObject**>((<char*><PyObject*>obj) + offset))[0] = <PyObject*>value


cdef object _EMPTY_TUPLE = ()


cdef inline object _new_params():
    cdef PyObject* made = (<_TypeObject*>FrozenDict).tp_new(
        <_TypeObject*>FrozenDict, <PyObject*>_EMPTY_TUPLE, NULL)
    if made == NULL:
        raise MemoryError()
    result = <object>made
    Py_DECREF(result)
    return result


#: The one empty parameter map handed out for every value without parameters (it is immutable).
cdef object _EMPTY = _new_params()

cdef Py_ssize_t _O_VIA_TRANSPORT, _O_VIA_HOST, _O_VIA_PORT, _O_VIA_PARAMS
cdef Py_ssize_t _O_ADDR_URI, _O_ADDR_DISPLAY, _O_ADDR_PARAMS
cdef Py_ssize_t _O_CSEQ_NUMBER, _O_CSEQ_METHOD, _O_CALLID
cdef Py_ssize_t _O_URI_HOST, _O_URI_USER, _O_URI_PASSWORD, _O_URI_PORT, _O_URI_SECURE
cdef Py_ssize_t _O_URI_PARAMS, _O_URI_HEADERS


cdef void _init_offsets() except *:
    global _O_VIA_TRANSPORT, _O_VIA_HOST, _O_VIA_PORT, _O_VIA_PARAMS
    global _O_ADDR_URI, _O_ADDR_DISPLAY, _O_ADDR_PARAMS
    global _O_CSEQ_NUMBER, _O_CSEQ_METHOD, _O_CALLID
    global _O_URI_HOST, _O_URI_USER, _O_URI_PASSWORD, _O_URI_PORT, _O_URI_SECURE
    global _O_URI_PARAMS, _O_URI_HEADERS
    if FrozenViaHeader._fields != ("transport", "host", "port", "parameters"):
        raise ImportError("FrozenViaHeader fields changed; _fastparse must be updated")
    if FrozenFromHeader._fields != ("uri", "display_name", "parameters"):
        raise ImportError("address header fields changed; _fastparse must be updated")
    if FrozenCSeqHeader._fields != ("number", "method") or FrozenCallIDHeader._fields != ("call_id",):
        raise ImportError("CSeq/Call-ID fields changed; _fastparse must be updated")
    if FrozenSIPURI._FIELDS != ("host", "user", "password", "port", "secure", "parameters", "headers"):
        raise ImportError("FrozenSIPURI fields changed; _fastparse must be updated")
    _O_VIA_TRANSPORT = _member_offset(FrozenViaHeader, "transport")
    _O_VIA_HOST = _member_offset(FrozenViaHeader, "host")
    _O_VIA_PORT = _member_offset(FrozenViaHeader, "port")
    _O_VIA_PARAMS = _member_offset(FrozenViaHeader, "parameters")
    _O_ADDR_URI = _member_offset(FrozenFromHeader, "uri")
    _O_ADDR_DISPLAY = _member_offset(FrozenFromHeader, "display_name")
    _O_ADDR_PARAMS = _member_offset(FrozenFromHeader, "parameters")
    for cls in (FrozenToHeader, FrozenContactHeader):
        if (_member_offset(cls, "uri"), _member_offset(cls, "display_name"),
                _member_offset(cls, "parameters")) != (_O_ADDR_URI, _O_ADDR_DISPLAY, _O_ADDR_PARAMS):
            raise ImportError(f"{cls.__name__} does not share the address header layout")
    _O_CSEQ_NUMBER = _member_offset(FrozenCSeqHeader, "number")
    _O_CSEQ_METHOD = _member_offset(FrozenCSeqHeader, "method")
    _O_CALLID = _member_offset(FrozenCallIDHeader, "call_id")
    _O_URI_HOST = _member_offset(FrozenSIPURI, "host")
    _O_URI_USER = _member_offset(FrozenSIPURI, "user")
    _O_URI_PASSWORD = _member_offset(FrozenSIPURI, "password")
    _O_URI_PORT = _member_offset(FrozenSIPURI, "port")
    _O_URI_SECURE = _member_offset(FrozenSIPURI, "secure")
    _O_URI_PARAMS = _member_offset(FrozenSIPURI, "parameters")
    _O_URI_HEADERS = _member_offset(FrozenSIPURI, "headers")
    for cls in (FrozenViaHeader, FrozenFromHeader, FrozenToHeader, FrozenContactHeader,
                FrozenCSeqHeader, FrozenCallIDHeader, FrozenSIPURI):
        if cls.__new__ is not object.__new__ or cls.__dictoffset__ != 0:
            raise ImportError(f"{cls.__name__} is not a plain __slots__ class")


_init_offsets()


# ---------------------------------------------------------------------------------------------
# Strings
# ---------------------------------------------------------------------------------------------

cdef inline str _sub(cstr p, Py_ssize_t s, Py_ssize_t e):
    """p[s:e] as a new ASCII str."""
    cdef str result = PyUnicode_New(e - s, 127)
    memcpy(PyUnicode_DATA(result), p + s, e - s)
    return result


# A small direct-mapped cache of recently made strings, for the parts that repeat from message to
# message (host names, users, display names, parameter names). A hit saves making and freeing a
# str; strings are immutable, so sharing one is invisible. Per-transaction values (tags,
# branches) do not go through it.
cdef enum:
    _CACHE_SLOTS = 512      # a power of two
    _CACHE_MAX_LEN = 48     # longer strings are not cached
cdef PyObject* _cache[_CACHE_SLOTS]


cdef str _cached(cstr p, Py_ssize_t s, Py_ssize_t e):
    """p[s:e] as a str, shared with the last string of that spelling made, if still cached."""
    cdef Py_ssize_t n = e - s, k
    cdef unsigned int h = 2166136261U
    cdef unsigned long long head, tail, mixed
    cdef PyObject* hit
    if n > _CACHE_MAX_LEN:
        return _sub(p, s, e)
    if n >= 8:  # hash the first and last eight bytes (a collision only costs a miss)
        memcpy(&head, p + s, 8)
        memcpy(&tail, p + e - 8, 8)
        mixed = (head * 0x9E3779B97F4A7C15ULL) ^ (tail * 0xC2B2AE3D27D4EB4FULL) ^ <unsigned long long>n
        h = <unsigned int>((mixed ^ (mixed >> 29)) >> 7)
    else:
        for k in range(s, e):
            h = (h ^ p[k]) * 16777619U
    h = (h ^ <unsigned int>n) & (_CACHE_SLOTS - 1)
    hit = _cache[h]
    if (hit != NULL and PyUnicode_GET_LENGTH(<object>hit) == n
            and memcmp(PyUnicode_DATA(<object>hit), p + s, n) == 0):
        return <str>hit
    result = _sub(p, s, e)
    Py_INCREF(result)
    Py_XDECREF(hit)
    _cache[h] = <PyObject*>result
    return result


cdef inline object _known(tuple table, cstr p, Py_ssize_t s, Py_ssize_t e):
    """The str of ``table`` spelled exactly p[s:e], or None."""
    cdef Py_ssize_t n = e - s, k
    cdef PyObject* item
    if n > _MAX_KNOWN_LEN:
        return None
    for k in range(len(table)):
        item = PyTuple_GET_ITEM(table, k)
        if PyUnicode_GET_LENGTH(<object>item) == n and memcmp(PyUnicode_DATA(<object>item), p + s, n) == 0:
            return <object>item
    return None


cdef inline str _sub_known(tuple table, cstr p, Py_ssize_t s, Py_ssize_t e):
    found = _known(table, p, s, e)
    return _sub(p, s, e) if found is None else <str>found


cdef inline str _name(cstr p, Py_ssize_t s, Py_ssize_t e):
    """A parameter name: one of the common ones, else through the cache."""
    found = _known(_PARAM_NAMES, p, s, e)
    return _cached(p, s, e) if found is None else <str>found


# Shared str objects for the spellings seen in nearly every message (equal to fresh ones).
cdef enum:
    _MAX_KNOWN_LEN = 13   # the longest string in the tables below
cdef tuple _PARAM_NAMES = ("branch", "tag", "rport", "received", "transport", "lr", "expires", "q",
                           "maddr", "ttl", "user", "ob", "reg-id", "+sip.instance", "method")
cdef tuple _PARAM_VALUES = ("udp", "tcp", "tls", "ws", "wss", "sctp", "UDP", "TCP", "TLS", "phone",
                            "ip")
cdef tuple _TRANSPORTS = ("UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "TLS-SCTP", "DTLS")
cdef tuple _METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK",
                       "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE")
assert max(len(word) for word in _PARAM_NAMES + _PARAM_VALUES + _TRANSPORTS + _METHODS) == _MAX_KNOWN_LEN
cdef object _PORT_5060 = 5060
cdef object _PORT_5061 = 5061


cdef inline object _port_object(unsigned long long value):
    if value == 5060:
        return _PORT_5060
    if value == 5061:
        return _PORT_5061
    return PyLong_FromUnsignedLongLong(value)


cdef inline bint _is_ws(uint8_t c) noexcept:
    return c == _SP or c == _HT


cdef inline bint _ci_eq(cstr p, const char* lower, Py_ssize_t n) noexcept:
    cdef Py_ssize_t k
    for k in range(n):
        if _LOWER[p[k]] != <uint8_t>lower[k]:
            return False
    return True


cdef inline Py_ssize_t _find(cstr p, Py_ssize_t s, Py_ssize_t e, uint8_t c) noexcept:
    """Offset of the first ``c`` in p[s:e], or -1."""
    cdef const void* hit
    if s >= e:
        return -1
    hit = memchr(p + s, c, e - s)
    return -1 if hit == NULL else <cstr>hit - p


cdef inline bint _all(cstr p, Py_ssize_t s, Py_ssize_t e, uint8_t bit) noexcept:
    cdef Py_ssize_t k
    for k in range(s, e):
        if not _CLASS[p[k]] & bit:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Numbers and hosts (the checks of uri.py and _grammar.py)
# ---------------------------------------------------------------------------------------------

cdef inline bint _number(cstr p, Py_ssize_t s, Py_ssize_t e, unsigned long long maximum,
                         unsigned long long* out) noexcept:
    """``1*DIGIT`` (leading zeros allowed) no larger than ``maximum`` (parse_delta_seconds)."""
    cdef unsigned long long value = 0
    cdef int significant = 0
    cdef Py_ssize_t k
    if s >= e:
        return False
    for k in range(s, e):
        if not 48 <= p[k] <= 57:
            return False
        if value or p[k] != 48:
            significant += 1
            if significant > 19:
                return False
            value = value * 10 + (p[k] - 48)
    if value > maximum:
        return False
    out[0] = value
    return True


cdef inline bint _port(cstr p, Py_ssize_t s, Py_ssize_t e, unsigned long long* out) noexcept:
    """``[0-9]{1,5}`` no larger than 65535 (parse_port)."""
    return 1 <= e - s <= 5 and _number(p, s, e, 65535, out)


cdef bint _ipv4(cstr p, Py_ssize_t s, Py_ssize_t e) noexcept:
    """Four dotted decimal octets 0-255 without leading zeros (the _IPV4 pattern)."""
    cdef int parts = 0, digits, value
    cdef Py_ssize_t k = s
    while True:
        digits = value = 0
        while k < e and 48 <= p[k] <= 57:
            if digits == 1 and value == 0:
                return False  # leading zero
            value = value * 10 + (p[k] - 48)
            digits += 1
            if digits > 3:
                return False
            k += 1
        if digits == 0 or value > 255:
            return False
        parts += 1
        if k == e:
            return parts == 4
        if p[k] != 46 or parts == 4:
            return False
        k += 1


cdef bint _host(cstr p, Py_ssize_t s, Py_ssize_t e) noexcept:
    """check_host: an IPv4 address if it is all digits and dots, else a host name
    ``label *("." label) ["."]`` with ``label = 1*labelchar *(1*"-" 1*labelchar)``."""
    cdef Py_ssize_t k = s
    cdef bint numeric = True
    while True:
        # one label
        if k == e or not _CLASS[p[k]] & C_LABEL:
            return False
        while k < e:
            if _CLASS[p[k]] & C_LABEL:
                if not 48 <= p[k] <= 57:
                    numeric = False
                k += 1
            elif p[k] == 45:  # '-'
                numeric = False
                while k < e and p[k] == 45:
                    k += 1
                if k == e or not _CLASS[p[k]] & C_LABEL:
                    return False
            else:
                break
        if k == e:
            break
        if p[k] != 46:  # '.'
            return False
        k += 1
        if k == e:
            break  # one trailing dot
    # A name of digits and dots only is an IPv4 address (a bad one is not a host name either).
    return _ipv4(p, s, e) if numeric else True


cdef bint _qvalue(cstr p, Py_ssize_t s, Py_ssize_t e) noexcept:
    """``0 [. 0*3DIGIT] / 1 [. 0*3("0")]`` (the _QVALUE pattern of the Contact header)."""
    cdef Py_ssize_t k
    if s >= e or not (p[s] == 48 or p[s] == 49):
        return False
    if e - s == 1:
        return True
    if p[s + 1] != 46 or e - s > 5:
        return False
    for k in range(s + 2, e):
        if not (48 <= p[k] <= 57) or (p[s] == 49 and p[k] != 48):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# The SIP URI (FrozenSIPURI.parse, without escapes, IPv6 or URI headers)
# ---------------------------------------------------------------------------------------------

cdef object _sip_uri(cstr p, Py_ssize_t s, Py_ssize_t e):
    """A FrozenSIPURI from p[s:e], or None when the fast path does not take it."""
    cdef Py_ssize_t colon, r, at, sep, semi, hc, k, item_end, eq
    cdef bint secure
    cdef unsigned long long port_value
    colon = _find(p, s, e, _COLON)
    if colon - s == 3 and _ci_eq(p + s, "sip", 3):
        secure = False
    elif colon - s == 4 and _ci_eq(p + s, "sips", 4):
        secure = True
    else:
        return None
    r = colon + 1
    user = password = None
    at = _find(p, r, e, _AT)
    if at >= 0:
        sep = _find(p, r, at, _COLON)
        if sep < 0:
            sep = at
        if sep == r or not _all(p, r, sep, C_USER):
            return None
        user = _cached(p, r, sep)
        if sep < at:
            if not _all(p, sep + 1, at, C_PASSWORD):
                return None
            password = _sub(p, sep + 1, at)
        r = at + 1
    if _find(p, r, e, _QMARK) >= 0:
        return None
    semi = _find(p, r, e, _SEMI)
    if semi < 0:
        semi = e
    hc = _find(p, r, semi, _COLON)
    if hc < 0:
        hc = semi
    if not _host(p, r, hc):
        return None
    port = None
    if hc < semi:
        if not _port(p, hc + 1, semi, &port_value):
            return None
        port = _port_object(port_value)
    params = _EMPTY
    if semi < e:
        params = _new_params()
        k = semi + 1
        while True:
            item_end = _find(p, k, e, _SEMI)
            if item_end < 0:
                item_end = e
            eq = _find(p, k, item_end, _EQ)
            if eq < 0:
                eq = item_end
            if eq == k or not _all(p, k, eq, C_UPARAM):
                return None
            name = _name(p, k, eq)
            if eq < item_end:
                if not _all(p, eq + 1, item_end, C_UPARAM):
                    return None
                value = _sub_known(_PARAM_VALUES, p, eq + 1, item_end)
            else:
                value = None
            PyDict_SetItem(params, name, value)
            if item_end == e:
                break
            k = item_end + 1
    uri = _alloc(FrozenSIPURI)
    _put(uri, _O_URI_HOST, _cached(p, r, hc))
    _put(uri, _O_URI_USER, user)
    _put(uri, _O_URI_PASSWORD, password)
    _put(uri, _O_URI_PORT, port)
    _put(uri, _O_URI_SECURE, secure)
    _put(uri, _O_URI_PARAMS, params)
    _put(uri, _O_URI_HEADERS, _EMPTY)
    return uri


# ---------------------------------------------------------------------------------------------
# Generic parameters: *( [LWS] ";" [LWS] token [ [LWS] "=" [LWS] (value / quoted) ] [LWS] )
# ---------------------------------------------------------------------------------------------

cdef enum:
    CHECK_NONE = 0
    CHECK_VIA = 1       # rport: flag or port number; ttl: 0-255
    CHECK_CONTACT = 2   # expires: 32-bit number; q: qvalue


cdef bint _param_ok(int checks, cstr p, Py_ssize_t ns, Py_ssize_t ne, Py_ssize_t vs,
                    Py_ssize_t ve, bint quoted) noexcept:
    """Would the family's parameter check accept this one? (False also sends tricky cases,
    such as a quoted value of a checked parameter, to the Python parser.)"""
    cdef Py_ssize_t n = ne - ns
    cdef unsigned long long ignored
    if checks == CHECK_VIA:
        if n == 5 and _ci_eq(p + ns, "rport", 5):
            return vs < 0 or (not quoted and _number(p, vs, ve, 65535, &ignored))
        if n == 3 and _ci_eq(p + ns, "ttl", 3):
            return vs >= 0 and not quoted and _number(p, vs, ve, 255, &ignored)
    elif checks == CHECK_CONTACT:
        if n == 7 and _ci_eq(p + ns, "expires", 7):
            return vs >= 0 and not quoted and _number(p, vs, ve, 4294967295ULL, &ignored)
        if n == 1 and _LOWER[p[ns]] == 113:  # 'q'
            return vs >= 0 and not quoted and _qvalue(p, vs, ve)
    return True


cdef object _params(cstr p, Py_ssize_t* pos, Py_ssize_t n, bint in_list, int checks):
    """Parameters from p[pos[0]:] up to the end of the element (``n``, or a ',' in a list).

    Returns a FrozenDict (``_EMPTY`` when there are none) and leaves ``pos[0]`` at the end of
    the element, or returns None when the fast path does not take the text.
    """
    cdef Py_ssize_t i = pos[0], ns, ne, vs, ve, j
    cdef bint quoted
    params = None
    while True:
        while i < n and _is_ws(p[i]):
            i += 1
        if i == n or (in_list and p[i] == _COMMA):
            break
        if p[i] != _SEMI:
            return None
        i += 1
        while i < n and _is_ws(p[i]):
            i += 1
        ns = i
        while i < n and _CLASS[p[i]] & C_TOKEN:
            i += 1
        if i == ns:
            return None
        ne = i
        vs = ve = -1
        quoted = False
        j = i
        while j < n and _is_ws(p[j]):
            j += 1
        if j < n and p[j] == _EQ:
            j += 1
            while j < n and _is_ws(p[j]):
                j += 1
            if j < n and p[j] == _DQUOTE:
                j += 1
                vs = j
                while j < n and p[j] != _DQUOTE:
                    if p[j] == _BACKSLASH or p[j] == _CR or p[j] == _LF:
                        return None
                    j += 1
                if j == n:
                    return None
                ve = j
                j += 1
                quoted = True
            else:
                vs = j
                while j < n and _CLASS[p[j]] & C_VALUE:
                    j += 1
                if j == vs:
                    return None
                ve = j
            i = j
        if checks and not _param_ok(checks, p, ns, ne, vs, ve, quoted):
            return None
        name = _name(p, ns, ne)
        if vs < 0:
            value = None
        elif quoted:
            value = QuotedString(_sub(p, vs, ve))
        else:
            value = _sub_known(_PARAM_VALUES, p, vs, ve)
        if params is None:
            params = _new_params()
        PyDict_SetItem(params, name, value)
    pos[0] = i
    return _EMPTY if params is None else params


# ---------------------------------------------------------------------------------------------
# Header values
# ---------------------------------------------------------------------------------------------

cdef inline bint _text(object value, cstr* p, Py_ssize_t* s, Py_ssize_t* e) except -1:
    """The ASCII bytes of ``value`` trimmed of SP/HTAB; False if the fast path cannot read it."""
    cdef Py_ssize_t a, b
    cdef cstr data
    if not PyUnicode_CheckExact(value):
        return False
    PyUnicode_READY(value)
    if not PyUnicode_IS_ASCII(value):
        return False
    data = <cstr>PyUnicode_DATA(value)
    a, b = 0, PyUnicode_GET_LENGTH(value)
    while a < b and _is_ws(data[a]):
        a += 1
    while b > a and _is_ws(data[b - 1]):
        b -= 1
    p[0], s[0], e[0] = data, a, b
    return True


cdef object _via(cstr p, Py_ssize_t* pos, Py_ssize_t n):
    """One via-parm at p[pos[0]:]; None when the fast path does not take it."""
    cdef Py_ssize_t i = pos[0], ts, te, hs, he, ps
    cdef unsigned long long port_value
    if n - i < 8 or not _ci_eq(p + i, "sip/2.0/", 8):
        return None
    i += 8
    ts = i
    while i < n and _CLASS[p[i]] & C_TOKEN:
        i += 1
    te = i
    if te == ts or i == n or not _is_ws(p[i]):
        return None
    while i < n and _is_ws(p[i]):
        i += 1
    hs = i
    while i < n and _CLASS[p[i]] & C_HOST:
        i += 1
    he = i
    if not _host(p, hs, he):
        return None
    port = None
    if i < n and p[i] == _COLON:
        i += 1
        ps = i
        while i < n and 48 <= p[i] <= 57:
            i += 1
        if not _port(p, ps, i, &port_value):
            return None
        port = _port_object(port_value)
    pos[0] = i
    params = _params(p, pos, n, True, CHECK_VIA)
    if params is None:
        return None
    transport = _known(_TRANSPORTS, p, ts, te)
    if transport is None:
        transport = _sub(p, ts, te).upper()
    via = _alloc(FrozenViaHeader)
    _put(via, _O_VIA_TRANSPORT, transport)
    _put(via, _O_VIA_HOST, _cached(p, hs, he))
    _put(via, _O_VIA_PORT, port)
    _put(via, _O_VIA_PARAMS, params)
    return via


cdef str _display_words(cstr p, Py_ssize_t s, Py_ssize_t e):
    """Token words and SP/HTAB in p[s:e] as the words joined by single spaces ('' if none)."""
    cdef Py_ssize_t k, j
    cdef bint in_word = False, normal = True
    cdef str scratch
    cdef char* out
    while s < e and _is_ws(p[s]):
        s += 1
    while e > s and _is_ws(p[e - 1]):
        e -= 1
    if s == e:
        return ""
    for k in range(s + 1, e):
        if p[k] == _HT or (p[k] == _SP and p[k - 1] == _SP):
            normal = False
            break
    if normal:
        return _cached(p, s, e)  # already single-spaced: the text itself
    scratch = PyUnicode_New(e - s, 127)  # room for the collapsed text, copied out below
    out = <char*>PyUnicode_DATA(scratch)
    k = 0
    for j in range(s, e):
        if _is_ws(p[j]):
            if in_word:  # the first SP/HTAB after a word becomes one SP (e is not after SP/HTAB)
                out[k] = 32
                k += 1
            in_word = False
        else:
            out[k] = p[j]
            k += 1
            in_word = True
    return _sub(<cstr>out, 0, k)


cdef object _address(type cls, cstr p, Py_ssize_t* pos, Py_ssize_t n, bint in_list, int checks):
    """One ``(name-addr / addr-spec) *(;param)`` at p[pos[0]:]; None when the fast path does
    not take it (parse_name_addr, then the header's parameters)."""
    cdef Py_ssize_t i = pos[0], j, lt, gt
    display = None
    if i < n and p[i] == _DQUOTE:
        j = i + 1
        while j < n and p[j] != _DQUOTE:
            if p[j] == _BACKSLASH or p[j] == _CR or p[j] == _LF:
                return None
            j += 1
        if j == n:
            return None
        display = QuotedString(_sub(p, i + 1, j))
        j += 1
        while j < n and _is_ws(p[j]):
            j += 1
        if j == n or p[j] != _LT:
            return None
        lt = j
    else:
        j = i
        while j < n and (_CLASS[p[j]] & C_TOKEN or _is_ws(p[j])):
            j += 1
        if j < n and p[j] == _LT:
            lt = j
            words = _display_words(p, i, j)
            if words:
                display = words
        else:
            # addr-spec: the URI runs to the first ';' (or the ',' ending a list element)
            j = i
            while j < n and p[j] != _SEMI and not (in_list and p[j] == _COMMA):
                if _ADDR_SPEC_STOP[p[j]]:
                    return None
                j += 1
            uri = _sip_uri(p, i, j)
            if uri is None:
                return None
            lt = -1
    if lt >= 0:
        gt = _find(p, lt + 1, n, _GT)
        if gt < 0:
            return None
        uri = _sip_uri(p, lt + 1, gt)
        if uri is None:
            return None
        j = gt + 1
    pos[0] = j
    params = _params(p, pos, n, in_list, checks)
    if params is None:
        return None
    header = _alloc(cls)
    _put(header, _O_ADDR_URI, uri)
    _put(header, _O_ADDR_DISPLAY, display)
    _put(header, _O_ADDR_PARAMS, params)
    return header


cdef object _address_list(type cls, object value, int checks):
    """Every element of a comma-separated address list, or None (fall back)."""
    cdef cstr p
    cdef Py_ssize_t i, n
    if not _text(value, &p, &i, &n) or i == n:
        return None
    result = []
    while True:
        if p[i] == _COMMA:
            return None  # empty element
        header = _address(cls, p, &i, n, True, checks)
        if header is None:
            return None
        result.append(header)
        if i == n:
            return result
        i += 1  # the ','
        while i < n and _is_ws(p[i]):
            i += 1
        if i == n:
            return None  # empty element after the last ','


cdef object _single_address(type cls, object value):
    cdef cstr p
    cdef Py_ssize_t i, n
    if not _text(value, &p, &i, &n):
        return None
    header = _address(cls, p, &i, n, False, CHECK_NONE)
    if header is None or i != n:
        return None
    return header


# ---------------------------------------------------------------------------------------------
# Public parsers: fast path, else the Python parser
# ---------------------------------------------------------------------------------------------

def parse_via_list(value):
    """``FrozenViaHeader.parse_list(value)``: every via-parm of a Via value."""
    cdef cstr p
    cdef Py_ssize_t i, n
    if _text(value, &p, &i, &n) and i < n:
        result = []
        while True:
            if p[i] == _COMMA:
                break
            via = _via(p, &i, n)
            if via is None:
                break
            result.append(via)
            if i == n:
                return result
            i += 1
            while i < n and _is_ws(p[i]):
                i += 1
            if i == n:
                break
    return FrozenViaHeader.parse_list(value)


def parse_from(value):
    """``FrozenFromHeader.parse(value)``."""
    header = _single_address(FrozenFromHeader, value)
    return FrozenFromHeader.parse(value) if header is None else header


def parse_to(value):
    """``FrozenToHeader.parse(value)``."""
    header = _single_address(FrozenToHeader, value)
    return FrozenToHeader.parse(value) if header is None else header


def parse_contact_list(value):
    """``FrozenContactHeader.parse_list(value)`` (the wildcard ``*`` goes to the Python parser)."""
    result = _address_list(FrozenContactHeader, value, CHECK_CONTACT)
    return FrozenContactHeader.parse_list(value) if result is None else result


def parse_cseq(value):
    """``FrozenCSeqHeader.parse(value)``: ``number SP method``."""
    cdef cstr p
    cdef Py_ssize_t s, e, k, ms
    cdef unsigned long long number
    if _text(value, &p, &s, &e):
        k = s
        while k < e and 48 <= p[k] <= 57:
            k += 1
        if k < e and _is_ws(p[k]) and _number(p, s, k, 4294967295ULL, &number):
            while k < e and _is_ws(p[k]):
                k += 1
            ms = k
            while k < e and _CLASS[p[k]] & C_TOKEN:
                k += 1
            if k == e and ms < e:
                header = _alloc(FrozenCSeqHeader)
                _put(header, _O_CSEQ_NUMBER, PyLong_FromUnsignedLongLong(number))
                _put(header, _O_CSEQ_METHOD, _sub_known(_METHODS, p, ms, e))
                return header
    return FrozenCSeqHeader.parse(value)


def parse_call_id(value):
    """``FrozenCallIDHeader.parse(value)``: ``word ["@" word]``."""
    cdef cstr p
    cdef Py_ssize_t s, e, at
    if _text(value, &p, &s, &e) and s < e:
        at = _find(p, s, e, _AT)
        if ((at < 0 and _all(p, s, e, C_WORD)) or
                (s < at < e - 1 and _all(p, s, at, C_WORD) and _all(p, at + 1, e, C_WORD))):
            header = _alloc(FrozenCallIDHeader)
            _put(header, _O_CALLID, value if e - s == PyUnicode_GET_LENGTH(value) else _sub(p, s, e))
            return header
    return FrozenCallIDHeader.parse(value)


def parse_sip_uri(text):
    """``FrozenSIPURI.parse(text)``."""
    cdef cstr p
    cdef Py_ssize_t s, e
    if _text(text, &p, &s, &e) and s == 0 and e == PyUnicode_GET_LENGTH(text):
        uri = _sip_uri(p, s, e)
        if uri is not None:
            return uri
    return FrozenSIPURI.parse(text)


FAST_PARSERS.update({
    "Via": parse_via_list,
    "From": parse_from,
    "To": parse_to,
    "Contact": parse_contact_list,
    "CSeq": parse_cseq,
    "Call-ID": parse_call_id,
})


# ---------------------------------------------------------------------------------------------
# Verbatim serialisation check
# ---------------------------------------------------------------------------------------------

cdef list _names_by_letter = [() for _ in range(256)]   # lower first letter -> canonical bytes
cdef uint8_t _compact_letter[256]


cdef void _init_names() except *:
    cdef int c
    groups = {}
    for name in CANONICAL_HEADER_NAMES.values():
        raw = name.encode("ascii")
        groups.setdefault(_LOWER[raw[0]], []).append(raw)
    for c, names in groups.items():
        _names_by_letter[c] = tuple(names)
    for c in range(256):
        _compact_letter[c] = 0
    for letter in COMPACT_FORMS:
        _compact_letter[ord(letter)] = _compact_letter[ord(letter.upper())] = 1


_init_names()


cdef bint _canonical_name(cstr p, Py_ssize_t s, Py_ssize_t e) noexcept:
    """Is p[s:e] the name the message layer writes for it (canonical spelling, not compact)?"""
    cdef Py_ssize_t n = e - s, k
    cdef cstr candidate
    cdef bint same
    if n == 1:
        return not _compact_letter[p[s]]
    for raw in <tuple>_names_by_letter[_LOWER[p[s]]]:
        if PyBytes_GET_SIZE(raw) != n:
            continue
        candidate = <cstr>PyBytes_AS_STRING(raw)
        same = True
        for k in range(n):
            if _LOWER[candidate[k]] != _LOWER[p[s + k]]:
                same = False
                break
        if same:
            return memcmp(candidate, p + s, n) == 0
    return True  # not a known name: written as received


def serialises_verbatim(data, Py_ssize_t length):
    """True when ``data[:length]`` (a message that scanned, ``length`` = ``len(scanned)``) is
    exactly what ``SIPMessage.to_bytes()`` writes for the message parsed from it.

    That holds when the message is already in the form the serialiser writes: no leading CRLFs;
    CRLF line ends; ``SIP/2.0`` in upper case (and a reason phrase after ``SP`` in a response);
    every field ``Name: value`` with the canonical name (no compact form), no space before the
    colon, exactly one space after it and none at the end, and no folding; one Content-Length,
    the last field, equal to the body length without leading zeros. False is always safe.
    """
    cdef cstr p
    cdef Py_ssize_t n, i, le, ns, ne, vs, ve, cl_start = -1, cl_end = -1
    cdef unsigned long long cl
    if type(data) is not bytes or length < 0 or length > PyBytes_GET_SIZE(data):
        return False
    p = <cstr>PyBytes_AS_STRING(data)
    n = length
    le = _find(p, 0, n, _LF)
    if le < 1 or p[le - 1] != _CR:
        return False
    if le - 1 >= 4 and _ci_eq(p, "sip/", 4):
        # SIP/2.0 SP 3DIGIT SP reason
        if le - 1 < 12 or memcmp(p, b"SIP/2.0 ", 8) != 0 or p[11] != _SP:
            return False
    elif le - 1 < 8 or memcmp(p + le - 9, b" SIP/2.0", 8) != 0:
        return False
    i = le + 1
    while True:
        if i + 1 >= n:
            return False
        if p[i] == _CR:
            if p[i + 1] != _LF:
                return False
            i += 2
            break
        if cl_start >= 0:
            return False  # Content-Length must be the last field
        ns = i
        while i < n and _CLASS[p[i]] & C_TOKEN:
            i += 1
        ne = i
        if ne == ns or i + 1 >= n or p[i] != _COLON or not _canonical_name(p, ns, ne):
            return False
        le = _find(p, i, n, _LF)
        if le < 0 or p[le - 1] != _CR:
            return False
        ve = le - 1
        if ve == i + 1:
            return False  # "Name:" with nothing after it is written "Name: "
        if p[i + 1] != _SP:
            return False
        vs = i + 2
        if vs < ve and (_is_ws(p[vs]) or _is_ws(p[ve - 1])):
            return False
        if vs > ve:
            return False
        if le + 1 < n and _is_ws(p[le + 1]):
            return False  # folded
        if ne - ns == 14 and memcmp(p + ns, b"Content-Length", 14) == 0:
            cl_start, cl_end = vs, ve
        i = le + 1
    if cl_start < 0 or (p[cl_start] == 48 and cl_end - cl_start > 1):
        return False
    if not _number(p, cl_start, cl_end, <unsigned long long>n, &cl):
        return False
    return <Py_ssize_t>cl == n - i
