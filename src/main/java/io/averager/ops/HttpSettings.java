package io.averager.ops;

import java.nio.file.Path;

/**
 * How the HTTP endpoint listens and whom it serves (docs/security.md).
 *
 * @param bind the address to listen on: {@code 127.0.0.1} serves this machine only,
 *     {@code 0.0.0.0} every interface
 * @param port the port; 0 for any free one
 * @param keystore the key and certificate chain to serve TLS with (PKCS12 or PEM), or null for
 *     plain HTTP
 * @param keystorePassword the PKCS12 keystore's password, or null
 * @param truststore the authorities that client certificates and other instances' server
 *     certificates must chain to (PKCS12 or PEM), or null: no client certificates, and the JDK's
 *     authorities for other instances
 * @param truststorePassword the PKCS12 truststore's password, or null
 * @param accessFile the tokens and certificates that may use the endpoint, and their grants, or
 *     null for an endpoint open to anyone who reaches it
 * @param peerToken the token the instances of the service share, to ask each other and to sign
 *     the redirects they send; null or empty for none
 * @param maxDownloads the most EMA downloads served at once
 */
public record HttpSettings(String bind, int port, Path keystore, String keystorePassword, Path truststore,
                           String truststorePassword, Path accessFile, String peerToken, int maxDownloads) {

    boolean tls() {
        return keystore != null;
    }
}
