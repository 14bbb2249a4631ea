import ArgumentParser
import LeaseholdRPC

/// `leasehold hash-token TOKEN`: the digest to put in an auth file.
struct HashTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash-token",
        abstract: "Print the SHA-256 digest of a bearer token, for the server's auth file.",
        discussion: """
            The auth file never holds tokens in clear, only their digests (lowercase hex). Give the token \
            itself to the clients (--token or LEASEHOLD_TOKEN), and the digest to the server:

              $ leasehold hash-token s3cret
              <64 hex digits>

              auth.json:
              {"tokens": [{"principal": "ops", "sha256": "<64 hex digits>", "roles": ["admin"]}]}

              $ leasehold serve --auth-file auth.json
              $ LEASEHOLD_TOKEN=s3cret leasehold release --force jobs/1 --reason "stuck worker"
            """
    )

    @Argument(help: "The token to hash.")
    var token: String

    func run() async throws {
        Output.print(Authenticator.digest(of: self.token))
    }
}
