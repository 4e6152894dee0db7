# The oauthkit image: one static binary (the three commands, by the links
# /usr/bin/cleartokens, /usr/bin/createapplication and
# /usr/bin/clearcimdapplications) on a minimal base, running as a non-root
# user; it writes nothing to its own filesystem, so a read-only root
# filesystem suits it (give DATABASE_URL: the embedded SQLite default would
# be a file in the working folder).
#   docker build -t oauthkit .
#   docker run --rm -e DATABASE_URL=postgres://… oauthkit cleartokens
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/usr/bin/oauthkit ./cmd/oauthkit
RUN cd /out/usr/bin && ln -s oauthkit cleartokens && ln -s oauthkit createapplication && ln -s oauthkit clearcimdapplications

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/usr/bin/ /usr/bin/
USER nonroot:nonroot
ENTRYPOINT ["/usr/bin/oauthkit"]
CMD ["--help"]
