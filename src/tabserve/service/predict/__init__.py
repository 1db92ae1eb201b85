"""The predict core every protocol calls, what a server process holds, and the alias follower."""
