"""musicdl: a Spotify library to tagged audio files and M3U playlists."""
