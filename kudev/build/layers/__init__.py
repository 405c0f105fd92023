"""`builder: layers`: kudev assembles the image itself, with no daemon and no build tool.

`dockerfile` reads the Dockerfile and refuses what it cannot do, naming the line; `layer_tar`
makes one reproducible layer per COPY/ADD; `base` fetches the base's manifest, config and
file tree from its registry; `assemble` writes the config and manifest; `push` sends only the
blobs the registry lacks, then the manifest; `archive` writes a docker-archive instead;
`builder` is the `Builder` the engine sees.
"""
