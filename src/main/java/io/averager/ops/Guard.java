package io.averager.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import io.averager.ops.Access.Principal;
import io.averager.ops.Access.Role;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.X509TrustManager;

/**
 * Who a request is from and whether it may have what it asks: a bearer token or a client
 * certificate, looked up in the {@link Access} file, or a grant another instance signed when it
 * redirected the request here. Without an access file everything is open, as before there was
 * one. Thread-safe.
 *
 * <p>A redirect to the instance owning a run carries no credentials of the client's: the
 * instance that checked them adds {@code grant=EXPIRY.MAC}, an HMAC-SHA256, under the instances'
 * shared {@code averager.http.peer.token}, of the request's path and expiry (a minute on). The
 * owner takes it in place of credentials for that path only, so the client need not send its
 * token to a host it did not address, and a leaked redirect is worth one resource for a minute.
 */
final class Guard {

    /** The principal of an endpoint without an access file: everything, for anyone. */
    static final Principal ANYONE = new Principal("anyone", List.of(new Access.Grant(Role.METRICS, ""),
            new Access.Grant(Role.READ, ""), new Access.Grant(Role.SYNTHESIZE, "")), null);
    /** Another instance of the service, by the peer token. */
    static final Principal PEER = new Principal("another instance", List.of(new Access.Grant(Role.PEER, "")), null);
    static final String GRANT = "grant";
    private static final long GRANT_SECONDS = 60;

    private final Access access;
    private final X509TrustManager clientAuthorities;
    private final byte[] peerSecret;
    private final Clock clock;

    /**
     * @param access the access file, or null for an open endpoint
     * @param clientAuthorities the CAs client certificates must chain to, or null to take none
     * @param peerToken the instances' shared token, or null
     */
    Guard(Access access, X509TrustManager clientAuthorities, String peerToken, Clock clock) {
        this.access = access;
        this.clientAuthorities = clientAuthorities;
        if (peerToken != null && !peerToken.isEmpty() && peerToken.length() < 16) {
            throw new IllegalArgumentException("averager.http.peer.token has " + peerToken.length()
                    + " characters; give at least 16 (e.g. openssl rand -hex 32)");
        }
        this.peerSecret = peerToken == null || peerToken.isEmpty() ? null : peerToken.getBytes(StandardCharsets.UTF_8);
        this.clock = clock;
    }

    boolean open() {
        return access == null;
    }

    /**
     * The principal of the request, if it may have {@code role} on {@code run} (null: on some run).
     *
     * @throws Http.Refusal 401 without valid credentials, 403 when they do not grant it
     */
    Principal check(HttpExchange exchange, Role role, String run) {
        if (access == null) {
            return ANYONE;
        }
        Principal p = signedGrant(exchange, role);
        if (p == null) {
            p = authenticate(exchange);
        }
        if (!p.may(role, run)) {
            throw new Http.Refusal(403, p.name() + " may not " + what(role, run) + " (its grants: " + p.grants() + ")");
        }
        return p;
    }

    private Principal authenticate(HttpExchange exchange) {
        String authorization = exchange.getRequestHeaders().getFirst("Authorization");
        if (authorization != null) {
            if (!authorization.regionMatches(true, 0, "Bearer ", 0, 7) || authorization.length() == 7) {
                throw unauthorized(exchange, "the Authorization header is not 'Bearer TOKEN'");
            }
            String token = authorization.substring(7).trim();
            if (peerSecret != null && MessageDigest.isEqual(token.getBytes(StandardCharsets.UTF_8), peerSecret)) {
                return PEER;
            }
            Principal p = access.byToken(token);
            if (p == null) {
                throw unauthorized(exchange, "the bearer token is not valid (unknown, removed or expired)");
            }
            return p;
        }
        X509Certificate[] chain = clientChain(exchange);
        if (chain != null) {
            if (clientAuthorities == null) {
                throw unauthorized(exchange, "client certificates are not taken here (no averager.http.tls.truststore)");
            }
            try {
                clientAuthorities.checkClientTrusted(chain, chain[0].getPublicKey().getAlgorithm());
            } catch (GeneralSecurityException e) {
                throw unauthorized(exchange, "the client certificate " + chain[0].getSubjectX500Principal().getName()
                        + " is not issued by a trusted authority: " + e.getMessage());
            }
            String name = commonName(chain[0]);
            Principal p = name == null ? null : access.byCertificate(name);
            if (p == null) {
                throw unauthorized(exchange, "the client certificate of " + name + " has no live entry in the access file");
            }
            return p;
        }
        throw unauthorized(exchange, "this endpoint needs a bearer token (Authorization: Bearer TOKEN)"
                + (clientAuthorities == null ? "" : " or a client certificate"));
    }

    private static Http.Refusal unauthorized(HttpExchange exchange, String why) {
        exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"averager\"");
        return new Http.Refusal(401, "Unauthorized: " + why);
    }

    private static X509Certificate[] clientChain(HttpExchange exchange) {
        if (!(exchange instanceof HttpsExchange https)) {
            return null;
        }
        try {
            Certificate[] chain = https.getSSLSession().getPeerCertificates();
            X509Certificate[] x509 = new X509Certificate[chain.length];
            for (int i = 0; i < chain.length; i++) {
                x509[i] = (X509Certificate) chain[i];
            }
            return x509.length == 0 ? null : x509;
        } catch (SSLPeerUnverifiedException e) {
            return null; // the client sent none
        }
    }

    private static String commonName(X509Certificate certificate) {
        try {
            for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return rdn.getValue().toString();
                }
            }
        } catch (InvalidNameException e) {
            return null;
        }
        return null;
    }

    private static String what(Role role, String run) {
        return switch (role) {
            case METRICS -> "read the metrics";
            case READ -> run == null ? "list runs" : "read run " + run;
            case SYNTHESIZE -> "synthesize an EMA of run " + run;
            case PEER -> "ask as another instance";
        };
    }

    // ------------------------------------------------------------------ grants of redirects

    /** The query parameter a redirect of {@code rawPath} carries, or null without a peer token. */
    String grantFor(String rawPath) {
        if (access == null || peerSecret == null) {
            return null;
        }
        long expires = clock.instant().getEpochSecond() + GRANT_SECONDS;
        return GRANT + "=" + expires + "." + mac(rawPath, expires);
    }

    private Principal signedGrant(HttpExchange exchange, Role role) {
        String grant = Http.query(exchange.getRequestURI().getRawQuery()).get(GRANT);
        return grant == null ? null : granted(exchange.getRequestURI().getRawPath(), grant, role);
    }

    /**
     * The principal of a redirect's {@code grant} for {@code rawPath}.
     *
     * @throws Http.Refusal 401 unless an instance with this peer token signed it for the path and it is still valid
     */
    Principal granted(String rawPath, String grant, Role role) {
        if (peerSecret == null) {
            throw new Http.Refusal(401, "Unauthorized: this instance has no averager.http.peer.token to check the grant with");
        }
        int dot = grant.indexOf('.');
        long expires;
        try {
            expires = Long.parseLong(grant.substring(0, Math.max(dot, 0)));
        } catch (NumberFormatException e) {
            throw new Http.Refusal(401, "Unauthorized: the grant is not EXPIRY.MAC");
        }
        if (!MessageDigest.isEqual(mac(rawPath, expires).getBytes(StandardCharsets.US_ASCII),
                grant.substring(dot + 1).getBytes(StandardCharsets.US_ASCII))) {
            throw new Http.Refusal(401, "Unauthorized: the grant was not signed for " + rawPath
                    + " by an instance of this service");
        }
        if (clock.instant().getEpochSecond() > expires) {
            throw new Http.Refusal(401, "Unauthorized: the grant for " + rawPath
                    + " expired; ask the instance you addressed again");
        }
        return new Principal("a redirect from another instance", List.of(new Access.Grant(role, "")), null);
    }

    private String mac(String rawPath, long expires) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(peerSecret, "HmacSHA256"));
            byte[] digest = mac.doFinal((rawPath + "\n" + expires).getBytes(StandardCharsets.UTF_8));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }
}
