#!/bin/sh
# Builds an audio-only ffmpeg and ffprobe from Debian's own (patched) ffmpeg source,
# linked against Debian's codec libraries, into PREFIX/bin. Runs in a builder stage.
#
# Enabled: exactly what musicdl converts between. Inputs are what YouTube and
# YouTube Music serve (AAC in MP4, Opus/Vorbis in WebM/Ogg, MP3); outputs are the
# six formats of config.yaml: mp3 (libmp3lame), m4a (aac), flac, opus (libopus),
# ogg (libvorbis) and wav (pcm). Networking is off: yt-dlp downloads, ffmpeg converts.
set -eu
PREFIX=${1:?usage: ffmpeg-build.sh PREFIX}
. "$(dirname "$0")/debian-source.sh"
debian_source ffmpeg nasm libmp3lame-dev libopus-dev libvorbis-dev

./configure \
  --prefix="$PREFIX" \
  --disable-everything --disable-autodetect --disable-network \
  --disable-doc --disable-debug --disable-ffplay \
  --disable-avdevice --disable-swscale --disable-postproc \
  --enable-libmp3lame --enable-libopus --enable-libvorbis \
  --enable-protocol=file,pipe \
  --enable-demuxer=mov,matroska,ogg,mp3,flac,wav,aac \
  --enable-muxer=mp3,mp4,ipod,adts,flac,ogg,oga,opus,wav,webm,matroska,null \
  --enable-decoder=aac,aac_latm,mp3,mp3float,opus,vorbis,flac,alac,pcm_s16le,pcm_s16be,pcm_s24le,pcm_s32le,pcm_f32le,pcm_u8 \
  --enable-encoder=libmp3lame,aac,flac,libopus,libvorbis,pcm_s16le,pcm_s24le \
  --enable-parser=aac,aac_latm,mpegaudio,opus,vorbis,flac \
  --enable-bsf=aac_adtstoasc,null \
  --enable-filter=aresample,aformat,anull,atrim,volume,acopy,asetpts,apad,aselect
make -j"$(nproc)"
make install
"$PREFIX/bin/ffmpeg" -hide_banner -version | head -n 1
