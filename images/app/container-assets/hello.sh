#!/bin/sh
echo "hello from app, on $(cat /etc/base-release 2>/dev/null || echo base)"
