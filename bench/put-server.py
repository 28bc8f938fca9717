# A PUT-only HTTP server, the upload peer of `curl -T` in the bench (python3's http.server
# serves downloads only): python3 put-server.py HOST PORT DIR. Each PUT /NAME writes DIR/NAME.
import http.server
import os
import sys

HOST, PORT, DIR = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class PutHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_PUT(self):
        left = int(self.headers['Content-Length'])
        with open(os.path.join(DIR, os.path.basename(self.path)), 'wb') as out:
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                out.write(chunk)
                left -= len(chunk)
        self.send_response(201 if left == 0 else 400)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer((HOST, PORT), PutHandler).serve_forever()
