"""Drives the issuer with authlib, a Python OIDC relying party, like a Python web app would.

Run by tests/it/python_clients.rs with ONYXIA_URL and OIDC_ISSUER_URL set; exits non-zero on
the first failed check.
"""
import os
import re
import secrets
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

url = os.environ["ONYXIA_URL"]
issuer = os.environ["OIDC_ISSUER_URL"]
meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
assert meta["issuer"] == issuer, meta["issuer"]

# A confidential client (client_secret_basic) using the code flow with PKCE.
verifier = secrets.token_urlsafe(48)
nonce = secrets.token_urlsafe(16)
client = OAuth2Session(
    "vault", "vault-secret",
    scope="openid profile email", redirect_uri=f"{url}/callback", code_challenge_method="S256",
)
auth_uri, state = client.create_authorization_url(
    meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier
)

# The browser: fetch the login form, post the credentials, stop at the redirect.
browser = requests.Session()
page = browser.get(auth_uri, timeout=10)
assert page.status_code == 200, page.status_code
action = re.search(r'action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
done = browser.post(
    f"{url}{action}", data={"csrf": csrf, "username": "alice", "password": "alice"},
    allow_redirects=False, timeout=10,
)
assert done.status_code in (302, 303), done.status_code
callback = done.headers["Location"]

token = client.fetch_token(
    meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
)
keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
claims = jwt.decode(
    token["id_token"], keys, claims_cls=CodeIDToken,
    claims_options={"iss": {"essential": True, "value": issuer}},
    claims_params={"nonce": nonce, "client_id": "vault", "access_token": token["access_token"]},
)
claims.validate()  # iss, aud, exp, iat, nonce, at_hash
assert claims["preferred_username"] == "alice", claims

info = client.get(meta["userinfo_endpoint"], timeout=10).json()
assert info["sub"] == claims["sub"] and info["email"] == "alice@example.org", info

refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
assert refreshed["refresh_token"] != token["refresh_token"], "refresh token rotated"

service = OAuth2Session("vault", "vault-secret")
cc = service.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
assert "access_token" in cc and "refresh_token" not in cc, cc

print("authlib: code flow with PKCE, ID token, userinfo, refresh, client credentials: ok")
sys.exit(0)
