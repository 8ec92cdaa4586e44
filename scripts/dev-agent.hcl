# Used by `make dev`: jobs without an image run in the local test image that
# scripts/testenv.sh builds (no registry is needed).
defaults {
  image = "godocker/bash:local"
}
