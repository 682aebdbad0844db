#!/bin/sh
# make-pki.sh DIR - build the test PKI of the TLS / domain-security integration
# tests in DIR (never inside the repository).  POSIX sh and the OpenSSL 3.0 CLI.
#
# Every run rebuilds everything (new keys, dates relative to now), so running it
# twice leaves the same set of files.  Keys are EC P-256, mode 0600.  Every
# certificate issued by a CA with a CRL names that CRL as its distribution point
# http://127.0.0.1:$CRL_PORT/<issuer>.crl (CRL_PORT defaults to 8080); DIR/www
# holds those CRLs in DER under the URL path, ready for a static HTTP server.
# With OCSP_PORT set, leaves issued by inter or inter2 also carry the AIA OCSP
# URL http://127.0.0.1:$OCSP_PORT/ and ocsp-inter.pem is inter's delegated OCSP
# responder (OCSPSigning): `openssl ocsp -index ca/inter/index.txt -CA inter.pem
# -rsigner ocsp-inter.pem -rkey ocsp-inter.key` answers for inter's certificates.
# tests/pki/README.md lists every file and the verdict each one should get.
# Ends with a self-check (openssl verify); exits non-zero if anything is off.
set -eu

if [ $# -ne 1 ] || [ -z "$1" ]; then echo "usage: $0 DIR" >&2; exit 2; fi
port=${CRL_PORT:-8080}
case $port in '' | *[!0-9]*) echo "make-pki: CRL_PORT must be a port number" >&2; exit 2 ;; esac
cdp=http://127.0.0.1:$port
ocsp_port=${OCSP_PORT:-}
case $ocsp_port in *[!0-9]*) echo "make-pki: OCSP_PORT must be a port number" >&2; exit 2 ;; esac

# refuse a DIR inside this repository, before and after creating it
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
[ -e "$repo/tests/pki/make-pki.sh" ] || repo=/nonexistent
in_repo() {
    case $1/ in "$repo"/*)
        echo "make-pki: $1 is inside the repository; use a temporary directory" >&2; exit 2 ;;
    esac
}
p=$1
while [ ! -d "$p" ]; do p=$(dirname "$p"); done
in_repo "$(cd "$p" && pwd -P)"
mkdir -p "$1"
dir=$(cd "$1" && pwd -P)
in_repo "$dir"
cd "$dir"
umask 022
rm -rf ca www                   # our own work areas: CA databases, requests, log
mkdir ca www
log=$dir/ca/openssl.log
cnf=ca/openssl.cnf
export CA=root                  # the CA that "openssl ca" acts as ($ENV::CA below)

now=$(date -u +%s)
day=86400
# at SECONDS - the UTC time now+SECONDS as YYYYMMDDHHMMSSZ (GNU, busybox or BSD date)
at() {
    date -u -d "@$((now + $1))" +%Y%m%d%H%M%SZ 2>/dev/null ||
        date -u -r "$((now + $1))" +%Y%m%d%H%M%SZ
}

# ossl ARGS - run openssl quietly; on failure show its log and stop
ossl() {
    echo "+ openssl $*" >>"$log"
    openssl "$@" >>"$log" 2>&1 && return 0
    echo "make-pki: openssl $1 failed; end of $log:" >&2
    tail -n 12 "$log" >&2
    exit 1
}

# One configuration for every CA: the databases live in ca/NAME, the CA's
# certificate and key are NAME.pem / NAME.key in DIR.
cat >"$cnf" <<'EOF'
[ ca ]
default_ca = any_ca
[ any_ca ]
dir              = ca/$ENV::CA
database         = $dir/index.txt
new_certs_dir    = $dir/new
serial           = $dir/serial
crlnumber        = $dir/crlnumber
certificate      = $ENV::CA.pem
private_key      = $ENV::CA.key
default_md       = sha256
default_crl_days = 30
policy           = any_dn
unique_subject   = no
preserve         = yes
email_in_dn      = no
crl_extensions   = crl_ext
[ any_dn ]
organizationName       = optional
organizationalUnitName = optional
commonName             = supplied
[ crl_ext ]
authorityKeyIdentifier = keyid:always
[ req ]
distinguished_name = req_dn
[ req_dn ]
EOF

ncert=0 ncrl=0

# newdb NAME FIRST_SERIAL - an empty openssl-ca database for CA NAME
newdb() {
    mkdir -p "ca/$1/new"
    : >"ca/$1/index.txt"
    echo "$2" >"ca/$1/serial"
    echo 01 >"ca/$1/crlnumber"
}

# issue NAME ISSUER SUBJECT START END - new key NAME.key, request, and the
# certificate ca/NAME.crt signed by ISSUER (ISSUER = NAME: self-signed) with
# the extensions of ca/NAME.ext
issue() {
    rm -f "$1.key"
    (umask 077 && ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key")
    chmod 600 "$1.key"
    ossl req -new -config "$cnf" -key "$1.key" -subj "$3" -out "ca/$1.csr"
    self=
    [ "$2" != "$1" ] || { self=-selfsign; newdb "$1" 01; }
    CA=$2
    ossl ca -batch -config "$cnf" $self -in "ca/$1.csr" -out "ca/$1.crt" -notext \
        -startdate "$4" -enddate "$5" -extfile "ca/$1.ext" -extensions ext
    CA=root
    ncert=$((ncert + 1))
}

# mkca NAME ISSUER SUBJECT PATHLEN FIRST_SERIAL [SKI] - a CA certificate NAME.pem.
# Issued CAs point at their issuer's CRL; SKI overrides the key identifier.
mkca() {
    {
        echo "[ ext ]"
        echo "basicConstraints = critical, CA:TRUE${4:+, pathlen:$4}"
        echo "keyUsage = critical, keyCertSign, cRLSign"
        echo "subjectKeyIdentifier = ${6:-hash}"
        if [ "$2" != "$1" ]; then
            echo "authorityKeyIdentifier = keyid"
            echo "crlDistributionPoints = URI:$cdp/$2.crl"
        fi
    } >"ca/$1.ext"
    issue "$1" "$2" "$3" "$(at $((-60 * day)))" "$(at $((3650 * day)))"
    if [ "$2" = "$1" ]; then echo "$5" >"ca/$1/serial"; else newdb "$1" "$5"; fi
    cp "ca/$1.crt" "$1.pem"
}

# leaf NAME ISSUER CN SAN EKU [START END] - an end-entity certificate: NAME.pem
# is the certificate followed by its issuer (nothing for a self-signed one).
# An empty SAN or EKU leaves that extension out.  Default validity: from
# yesterday for a year.
leaf() {
    {
        echo "[ ext ]"
        echo "basicConstraints = critical, CA:FALSE"
        echo "keyUsage = critical, digitalSignature"
        echo "subjectKeyIdentifier = hash"
        [ "$2" = "$1" ] || echo "authorityKeyIdentifier = keyid"
        case $2 in inter | inter2) echo "crlDistributionPoints = URI:$cdp/$2.crl" ;; esac
        case $2$ocsp_port in inter?* | inter2?*)
            echo "authorityInfoAccess = OCSP;URI:http://127.0.0.1:$ocsp_port/" ;;
        esac
        if [ -n "$4" ]; then echo "subjectAltName = $4"; fi
        if [ -n "$5" ]; then echo "extendedKeyUsage = $5"; fi
    } >"ca/$1.ext"
    case $1 in relay) o=Contoso ;; *) o="Woodgrove Bank/OU=$1" ;; esac
    issue "$1" "$2" "/O=$o/CN=$3" "${6:-$(at $((-day)))}" "${7:-$(at $((365 * day)))}"
    if [ "$2" = "$1" ]; then cp "ca/$1.crt" "$1.pem"; else cat "ca/$1.crt" "$2.pem" >"$1.pem"; fi
}

# crl CA OUT [LASTUPDATE NEXTUPDATE] - CA's CRL as OUT (PEM) and OUT.der;
# by default current from an hour ago for 30 days
crl() {
    CA=$1
    ossl ca -batch -config "$cnf" -gencrl -out "$2" \
        -crl_lastupdate "${3:-$(at -3600)}" -crl_nextupdate "${4:-$(at $((30 * day)))}"
    CA=root
    ossl crl -in "$2" -outform DER -out "$2.der"
    ncrl=$((ncrl + 1))
}

# revoke CA NAME - CA revokes certificate NAME (reason keyCompromise)
revoke() {
    CA=$1
    ossl ca -batch -config "$cnf" -revoke "ca/$2.crt" -crl_reason keyCompromise
    CA=root
}

# --- certification authorities --------------------------------------------------
inter_dn="/O=Domsec Test PKI/CN=Domsec Test Intermediate CA"
mkca root root "/O=Domsec Test PKI/CN=Domsec Test Root CA" "" 1000
mkca inter root "$inter_dn" 0 2000
mkca inter2 root "/O=Domsec Test PKI/CN=Domsec Test Intermediate CA 2" 0 3000
mkca rogue rogue "/O=Rogue Test PKI/CN=Rogue Test Root CA" "" 4000
cat inter.pem root.pem >chain.pem
cp root.pem trusted-ca.pem

# --- our relay --------------------------------------------------------------------
both=serverAuth,clientAuth
ok="DNS:mail.woodgrovebank.test"
leaf relay inter mail.contoso.test "DNS:mail.contoso.test,DNS:contoso.test" $both

# --- partner certificates (partner domain woodgrovebank.test) -------------------------
leaf partner-ok inter mail.woodgrovebank.test "$ok" $both
leaf partner-exact inter woodgrovebank.test "DNS:woodgrovebank.test" $both
leaf partner-wild inter "*.woodgrovebank.test" "DNS:*.woodgrovebank.test" $both
# partner-deepwild: same name as partner-wild, kept apart for the "*.P, D ends
# with .P" rule (D = eu.woodgrovebank.test); partner-suffixwild: P must end on a
# label boundary (woodgrovebank.test does not end with ".grovebank.test")
leaf partner-deepwild inter "*.woodgrovebank.test" "DNS:*.woodgrovebank.test" $both
leaf partner-toplevel-wild inter "*.test" "DNS:*.test" $both
leaf partner-suffixwild inter "*.grovebank.test" "DNS:*.grovebank.test" $both
leaf partner-deep inter a.mail.woodgrovebank.test "DNS:a.mail.woodgrovebank.test" $both
leaf partner-cn-only inter mail.woodgrovebank.test "" $both
leaf partner-wrongname inter mail.fabrikam.test "DNS:mail.fabrikam.test" $both
leaf partner-expired inter mail.woodgrovebank.test "$ok" $both "$(at $((-60 * day)))" "$(at $((-day)))"
leaf partner-notyet inter mail.woodgrovebank.test "$ok" $both "$(at $day)" "$(at $((366 * day)))"
leaf partner-selfsigned partner-selfsigned mail.woodgrovebank.test "$ok" $both
leaf partner-untrusted rogue mail.woodgrovebank.test "$ok" $both
leaf partner-noeku-server inter mail.woodgrovebank.test "$ok" clientAuth
leaf partner-noeku inter mail.woodgrovebank.test "$ok" emailProtection
leaf partner-eku-absent inter mail.woodgrovebank.test "$ok" ""
leaf partner-revoked inter mail.woodgrovebank.test "$ok" $both
leaf partner-under-inter2 inter2 mail.woodgrovebank.test "$ok" $both
# (Added last: the serials above stay as tests know them.)
# serverAuth only (a 2026 public certificate used as a client certificate): under
# the trusted intermediate, under the rogue root, expired; partner-rolled: the
# name of partner-ok with a new key (a key rollover not pinned yet)
leaf partner-serveronly inter mail.woodgrovebank.test "$ok" serverAuth
leaf partner-serveronly-untrusted rogue mail.woodgrovebank.test "$ok" serverAuth
leaf partner-serveronly-expired inter mail.woodgrovebank.test "$ok" serverAuth "$(at $((-60 * day)))" "$(at $((-day)))"
leaf partner-rolled inter mail.woodgrovebank.test "$ok" $both

[ -z "$ocsp_port" ] || leaf ocsp-inter inter ocsp.inter.test "" "critical, OCSPSigning"

# --- CRLs -------------------------------------------------------------------------------
# last month's CRL of inter, made before partner-revoked was revoked: expired yesterday
crl inter inter-stale.crl "$(at $((-30 * day)))" "$(at $((-day)))"
revoke inter partner-revoked
crl inter inter.crl
revoke root inter2
crl root root.crl
crl inter2 inter2.crl
# An impostor CA with the intermediate's name and key identifier but another key.
inter_ski=$(openssl x509 -in inter.pem -noout -ext subjectKeyIdentifier | sed -n '2s/ //gp')
mkca inter-wrongkey inter-wrongkey "$inter_dn" 0 5000 "$inter_ski"
crl inter-wrongkey inter-wrongkey.crl
for c in root inter inter2; do cp "$c.crl.der" "www/$c.crl"; done

# --- self-check -------------------------------------------------------------------------
pass=0 fail=0
bad() { fail=$((fail + 1)); echo "make-pki: FAILED: $*" >&2; }

# expect WANT CERT [OPTIONS] - "openssl verify -CAfile trusted-ca.pem -untrusted
# CERT OPTIONS CERT" (the .pem's own chain, as a TLS peer sends it) gives WANT:
# OK or the X509_V_ERR number of the first error
expect() {
    want=$1 cert=$2
    shift 2
    if out=$(openssl verify -CAfile trusted-ca.pem -untrusted "$cert" "$@" "$cert" 2>&1); then
        got=OK
    else
        got=$(printf '%s\n' "$out" | sed -n 's/^error \([0-9]*\) at .*/\1/p' | head -n 1)
    fi
    if [ "$got" = "$want" ]; then pass=$((pass + 1)); else
        bad "openssl verify -CAfile trusted-ca.pem -untrusted $cert $* $cert: want $want, got ${got:-?}"
        printf '%s\n' "$out" >&2
    fi
}
for n in relay partner-ok partner-exact partner-wild partner-deepwild partner-toplevel-wild \
    partner-suffixwild partner-deep partner-cn-only partner-wrongname partner-eku-absent \
    partner-revoked partner-under-inter2; do
    expect OK "$n.pem" -purpose sslserver
    expect OK "$n.pem" -purpose sslclient
done
expect 10 partner-expired.pem           # certificate has expired
expect 9 partner-notyet.pem             # certificate is not yet valid
expect 18 partner-selfsigned.pem        # self-signed certificate
expect 19 partner-untrusted.pem         # self-signed certificate in certificate chain
expect 26 partner-noeku-server.pem -purpose sslserver    # unsupported certificate purpose
expect OK partner-noeku-server.pem -purpose sslclient
expect 26 partner-noeku.pem -purpose sslserver
expect 26 partner-noeku.pem -purpose sslclient
expect OK partner-serveronly.pem -purpose sslserver
expect 26 partner-serveronly.pem -purpose sslclient
expect 19 partner-serveronly-untrusted.pem
expect 10 partner-serveronly-expired.pem
expect OK partner-rolled.pem -purpose sslclient
expect OK partner-ok.pem -crl_check -CRLfile inter.crl
expect OK partner-ok.pem -crl_check_all -CRLfile inter.crl -CRLfile root.crl
expect 23 partner-revoked.pem -crl_check -CRLfile inter.crl     # certificate revoked
expect 23 partner-under-inter2.pem -crl_check_all -CRLfile inter2.crl -CRLfile root.crl
expect 12 partner-ok.pem -crl_check -CRLfile inter-stale.crl    # CRL has expired
expect 8 partner-ok.pem -crl_check -CRLfile inter-wrongkey.crl  # CRL signature failure
expect 3 partner-ok.pem -crl_check      # unable to get certificate CRL

# check DESCRIPTION COMMAND... - COMMAND succeeds
check() {
    what=$1
    shift
    if "$@"; then pass=$((pass + 1)); else bad "$what"; fi
}
check "inter-wrongkey.crl names the intermediate as its issuer" \
    [ "$(openssl crl -in inter-wrongkey.crl -noout -hash)" = "$(openssl x509 -in inter.pem -noout -subject_hash)" ]
[ -z "$ocsp_port" ] || check "partner-ok.pem names the OCSP responder of port $ocsp_port" \
    [ -n "$(openssl x509 -in partner-ok.pem -noout -ocsp_uri | grep -Fx "http://127.0.0.1:$ocsp_port/")" ]
check "partner-cn-only.pem has no subjectAltName" \
    [ -z "$(openssl x509 -in partner-cn-only.pem -noout -ext subjectAltName 2>/dev/null)" ]
check "partner-ok.pem names the CRL distribution point $cdp/inter.crl" \
    [ -n "$(openssl x509 -in partner-ok.pem -noout -ext crlDistributionPoints | grep -F "URI:$cdp/inter.crl")" ]
for k in *.key; do
    check "$k is mode 0600" [ -z "$(find "$k" -perm -g+r -o -perm -o+r -o -perm -g+w -o -perm -o+w)" ]
done
for c in *.crl; do
    openssl crl -in "$c" -outform DER -out ca/check.der
    check "$c.der is $c in DER" cmp -s ca/check.der "$c.der"
done

[ "$fail" -eq 0 ] || { echo "make-pki: $fail check(s) failed in $dir" >&2; exit 1; }
echo "make-pki: $dir: $ncert certificates, $ncrl CRLs, CDP $cdp/, $pass checks OK in $(($(date -u +%s) - now))s"
